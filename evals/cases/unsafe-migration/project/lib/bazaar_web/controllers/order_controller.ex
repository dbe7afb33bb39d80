defmodule BazaarWeb.OrderController do
  use BazaarWeb, :controller

  alias Bazaar.Checkout

  action_fallback BazaarWeb.FallbackController

  def index(conn, _params) do
    customer = conn.assigns.current_customer
    render(conn, :index, orders: Checkout.list_customer_orders(customer.id))
  end

  def create(conn, %{"order" => order_params}) do
    customer = conn.assigns.current_customer

    with {:ok, order} <- Checkout.place_order(customer.id, order_params) do
      conn
      |> put_status(:created)
      |> render(:show, order: order)
    end
  end

  def apply_coupon(conn, %{"order_id" => id, "code" => code}) do
    order = Checkout.get_order!(id)

    with {:ok, order} <- Checkout.apply_coupon(order, code) do
      render(conn, :show, order: order)
    end
  end
end
