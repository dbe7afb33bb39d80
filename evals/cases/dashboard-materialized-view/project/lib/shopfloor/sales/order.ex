defmodule Shopfloor.Sales.Order do
  use Ecto.Schema

  schema "orders" do
    field :status, :string, default: "pending"
    field :customer_email, :string
    has_many :items, Shopfloor.Sales.OrderItem

    timestamps()
  end
end
