defmodule Shop.Orders.Order do
  use Ecto.Schema
  import Ecto.Changeset

  schema "orders" do
    field :number, :string
    field :status, :string, default: "placed"
    field :total_cents, :integer
    belongs_to :store, Shop.Orders.Store
    belongs_to :customer, Shop.Customers.Customer

    timestamps()
  end

  def changeset(order, attrs) do
    order
    |> cast(attrs, [:number, :status, :total_cents, :store_id, :customer_id])
    |> validate_required([:number, :total_cents, :store_id, :customer_id])
    |> validate_inclusion(:status, ~w(placed paid shipped delivered refunded))
  end
end
