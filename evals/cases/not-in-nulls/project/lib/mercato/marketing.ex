defmodule Mercato.Marketing do
  @moduledoc "Audiences for marketing campaigns."

  import Ecto.Query, warn: false
  alias Mercato.Repo
  alias Mercato.Accounts.Customer
  alias Mercato.Sales.Order

  @doc "Customers who signed up since `since` and have never placed an order: the win-back audience."
  def customers_without_orders(since) do
    from(c in Customer,
      where: c.inserted_at >= ^since and c.id not in subquery(from o in Order, select: o.customer_id),
      where: c.marketing_opt_in,
      order_by: c.inserted_at,
      select: %{id: c.id, name: c.name, email: c.email, signed_up_at: c.inserted_at}
    )
    |> Repo.all()
  end

  def opted_in_count do
    Repo.aggregate(from(c in Customer, where: c.marketing_opt_in), :count)
  end
end
