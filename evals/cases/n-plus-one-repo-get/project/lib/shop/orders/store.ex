defmodule Shop.Orders.Store do
  use Ecto.Schema

  schema "stores" do
    field :name, :string
    field :currency, :string, default: "EUR"
    has_many :orders, Shop.Orders.Order

    timestamps()
  end
end
