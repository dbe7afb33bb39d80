defmodule Shopfloor.Sales.OrderItem do
  use Ecto.Schema

  schema "order_items" do
    field :quantity, :integer
    field :unit_price_cents, :integer
    belongs_to :order, Shopfloor.Sales.Order
    belongs_to :product, Shopfloor.Catalog.Product

    timestamps()
  end
end
