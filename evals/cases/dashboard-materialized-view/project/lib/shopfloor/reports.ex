defmodule Shopfloor.Reports do
  @moduledoc "Figures for the admin dashboard."

  import Ecto.Query, warn: false
  alias Shopfloor.Repo
  alias Shopfloor.Sales.{Order, OrderItem}
  alias Shopfloor.Catalog.Product

  @doc "Paid revenue per day and product category, newest days first (the dashboard's revenue panel)."
  def daily_revenue_by_category(limit \\ 300) do
    from(o in Order,
      join: i in OrderItem, on: i.order_id == o.id,
      join: p in Product, on: p.id == i.product_id,
      where: o.status == "paid",
      group_by: [fragment("date_trunc('day', ?)", o.inserted_at), p.category],
      order_by: [desc: fragment("date_trunc('day', ?)", o.inserted_at), asc: p.category],
      limit: ^limit,
      select: %{
        day: fragment("date_trunc('day', ?)", o.inserted_at),
        category: p.category,
        orders: count(o.id, :distinct),
        revenue_cents: sum(i.quantity * i.unit_price_cents)
      }
    )
    |> Repo.all()
  end

  def pending_orders_count do
    Repo.aggregate(from(o in Order, where: o.status == "pending"), :count)
  end
end
