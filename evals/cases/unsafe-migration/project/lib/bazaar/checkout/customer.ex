defmodule Bazaar.Checkout.Customer do
  use Ecto.Schema

  schema "customers" do
    field :name, :string
    field :email, :string
    has_many :orders, Bazaar.Checkout.Order

    timestamps()
  end
end
