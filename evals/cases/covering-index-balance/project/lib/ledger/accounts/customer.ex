defmodule Ledger.Accounts.Customer do
  use Ecto.Schema
  import Ecto.Changeset

  schema "customers" do
    field :name, :string
    field :email, :string
    field :currency, :string, default: "EUR"

    has_many :invoices, Ledger.Billing.Invoice

    timestamps()
  end

  def changeset(customer, attrs) do
    customer
    |> cast(attrs, [:name, :email, :currency])
    |> validate_required([:name, :email])
  end
end
