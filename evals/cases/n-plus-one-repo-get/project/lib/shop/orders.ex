defmodule Shop.Orders do
  @moduledoc "Orders placed in a store, as shown in the merchant dashboard."

  import Ecto.Query, warn: false
  alias Shop.Repo
  alias Shop.Customers.Customer
  alias Shop.Orders.Order

  @page_size 50

  def list_recent_orders(store_id) do
    orders =
      from(o in Order,
        where: o.store_id == ^store_id,
        order_by: [desc: o.inserted_at],
        limit: @page_size
      )
      |> Repo.all()

    Enum.map(orders, fn order ->
      %{order | customer: Repo.get!(Customer, order.customer_id)}
    end)
  end

  def get_order!(store_id, id) do
    Order
    |> where([o], o.store_id == ^store_id)
    |> Repo.get!(id)
    |> Repo.preload(:customer)
  end

  def mark_shipped(%Order{} = order) do
    order
    |> Order.changeset(%{status: "shipped"})
    |> Repo.update()
  end
end
