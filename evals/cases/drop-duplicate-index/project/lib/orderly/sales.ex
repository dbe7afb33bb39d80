defmodule Orderly.Sales do
  @moduledoc "Orders and the customers who place them."

  import Ecto.Query, warn: false
  alias Orderly.Repo
  alias Orderly.Sales.Order

  def place_order(customer_id, attrs) do
    %Order{}
    |> Order.create_changeset(Map.put(attrs, "customer_id", customer_id))
    |> Repo.insert()
  end

  def set_status(%Order{} = order, status) do
    order
    |> Order.status_changeset(status)
    |> Repo.update()
  end

  def get_order!(id), do: Repo.get!(Order, id)

  def get_order_by_number(number), do: Repo.get_by(Order, number: number)

  def list_customer_orders(customer_id) do
    Order
    |> where([o], o.customer_id == ^customer_id)
    |> order_by([o], desc: o.inserted_at)
    |> Repo.all()
  end

  def list_customer_orders_with_status(customer_id, status) do
    Order
    |> where([o], o.customer_id == ^customer_id and o.status == ^status)
    |> order_by([o], desc: o.inserted_at)
    |> Repo.all()
  end

  def recent_orders(limit \\ 50) do
    Order
    |> order_by([o], desc: o.inserted_at)
    |> limit(^limit)
    |> Repo.all()
  end
end
