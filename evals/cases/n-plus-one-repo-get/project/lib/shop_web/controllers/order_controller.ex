defmodule ShopWeb.OrderController do
  use ShopWeb, :controller

  alias Shop.Orders

  def index(conn, _params) do
    orders = Orders.list_recent_orders(conn.assigns.current_store.id)
    render(conn, :index, orders: orders)
  end

  def show(conn, %{"id" => id}) do
    order = Orders.get_order!(conn.assigns.current_store.id, id)
    render(conn, :show, order: order)
  end
end
