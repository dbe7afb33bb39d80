defmodule Ledger.Billing.Invoice do
  use Ecto.Schema
  import Ecto.Changeset

  # Credit notes are invoices with a negative amount.
  schema "invoices" do
    field :number, :string
    field :amount_cents, :integer
    field :status, :string, default: "open"
    field :issued_on, :date
    field :memo, :string
    belongs_to :customer, Ledger.Accounts.Customer

    timestamps()
  end

  def changeset(invoice, attrs) do
    invoice
    |> cast(attrs, [:number, :amount_cents, :status, :issued_on, :memo, :customer_id])
    |> validate_required([:number, :amount_cents, :issued_on, :customer_id])
  end
end
