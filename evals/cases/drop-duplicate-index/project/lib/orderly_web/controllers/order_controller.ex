defmodule OrderlyWeb.OrderController do
  use OrderlyWeb, :controller

  alias Orderly.Sales

  action_fallback OrderlyWeb.FallbackController

  def create(conn, %{"customer_id" => customer_id, "order" => order_params}) do
    with {:ok, order} <- Sales.place_order(customer_id, order_params) do
      conn
      |> put_status(:created)
      |> render(:show, order: order)
    end
  end

  def update(conn, %{"id" => id, "status" => status}) do
    order = Sales.get_order!(id)

    with {:ok, order} <- Sales.set_status(order, status) do
      render(conn, :show, order: order)
    end
  end
end
