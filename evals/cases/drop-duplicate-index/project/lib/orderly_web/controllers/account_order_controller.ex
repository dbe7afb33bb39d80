defmodule OrderlyWeb.AccountOrderController do
  use OrderlyWeb, :controller

  alias Orderly.Sales

  def index(conn, %{"status" => status}) do
    customer = conn.assigns.current_customer
    orders = Sales.list_customer_orders_with_status(customer.id, status)
    render(conn, :index, orders: orders)
  end

  def index(conn, _params) do
    customer = conn.assigns.current_customer
    render(conn, :index, orders: Sales.list_customer_orders(customer.id))
  end
end
