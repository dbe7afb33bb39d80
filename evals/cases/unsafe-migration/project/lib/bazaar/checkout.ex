defmodule Bazaar.Checkout do
  @moduledoc "Orders, their customers, and the coupons applied to them."

  import Ecto.Query, warn: false
  alias Bazaar.Repo
  alias Bazaar.Checkout.{Coupon, Order}

  def place_order(customer_id, attrs) do
    %Order{}
    |> Order.create_changeset(Map.put(attrs, "customer_id", customer_id))
    |> Repo.insert()
  end

  def get_order!(id), do: Repo.get!(Order, id)

  def list_customer_orders(customer_id) do
    from(o in Order, where: o.customer_id == ^customer_id, order_by: [desc: o.inserted_at])
    |> Repo.all()
  end

  def apply_coupon(%Order{} = order, code) do
    now = DateTime.utc_now()

    coupon =
      Repo.one(
        from c in Coupon,
          where: c.code == ^String.upcase(code),
          where: is_nil(c.expires_at) or c.expires_at > ^now
      )

    case coupon do
      nil -> {:error, :invalid_coupon}
      coupon -> order |> Order.coupon_changeset(coupon) |> Repo.update()
    end
  end

  def orders_using_coupon(coupon_id) do
    from(o in Order, where: o.coupon_id == ^coupon_id, select: count(o.id))
    |> Repo.one()
  end

  def create_coupon(attrs) do
    %Coupon{}
    |> Coupon.changeset(attrs)
    |> Repo.insert()
  end
end
