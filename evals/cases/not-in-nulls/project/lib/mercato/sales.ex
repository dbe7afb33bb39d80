defmodule Mercato.Sales do
  @moduledoc "Checkout: orders from customers and from guests."

  alias Mercato.Repo
  alias Mercato.Sales.Order

  def create_order(attrs) do
    %Order{}
    |> Order.changeset(attrs)
    |> Repo.insert()
  end
end
