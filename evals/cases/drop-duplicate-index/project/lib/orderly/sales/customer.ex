defmodule Orderly.Sales.Customer do
  use Ecto.Schema

  schema "customers" do
    field :name, :string
    field :email, :string
    has_many :orders, Orderly.Sales.Order

    timestamps()
  end
end
