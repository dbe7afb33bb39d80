defmodule Payline.Payments.Transaction do
  use Ecto.Schema
  import Ecto.Changeset

  schema "transactions" do
    field :reference, :string
    field :amount_cents, :integer
    field :currency, :string
    field :status, :string, default: "pending"
    belongs_to :merchant, Payline.Payments.Merchant

    timestamps(type: :utc_datetime)
  end

  def changeset(transaction, attrs) do
    transaction
    |> cast(attrs, [:reference, :amount_cents, :currency, :status, :merchant_id])
    |> validate_required([:reference, :amount_cents, :currency, :merchant_id])
    |> validate_inclusion(:status, ~w(pending settled refunded failed))
    |> unique_constraint(:reference)
  end
end
