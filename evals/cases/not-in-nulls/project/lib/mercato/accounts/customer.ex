defmodule Mercato.Accounts.Customer do
  use Ecto.Schema

  schema "customers" do
    field :name, :string
    field :email, :string
    field :marketing_opt_in, :boolean, default: false
    has_many :orders, Mercato.Sales.Order

    timestamps()
  end
end
