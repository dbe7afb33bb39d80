defmodule Bazaar.Checkout.Order do
  use Ecto.Schema
  import Ecto.Changeset

  schema "orders" do
    field :number, :string
    field :status, :string, default: "pending"
    field :total_cents, :integer
    field :discount_cents, :integer, default: 0
    belongs_to :customer, Bazaar.Checkout.Customer
    belongs_to :coupon, Bazaar.Checkout.Coupon

    timestamps()
  end

  def create_changeset(order, attrs) do
    order
    |> cast(attrs, [:customer_id, :total_cents])
    |> validate_required([:customer_id, :total_cents])
    |> put_change(:number, "B" <> Integer.to_string(System.unique_integer([:positive, :monotonic])))
    |> foreign_key_constraint(:customer_id)
  end

  def coupon_changeset(order, coupon) do
    discount = div(order.total_cents * coupon.percent_off, 100)

    order
    |> change(coupon_id: coupon.id, discount_cents: discount)
    |> foreign_key_constraint(:coupon_id)
  end
end
