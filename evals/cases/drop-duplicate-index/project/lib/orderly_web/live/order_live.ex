defmodule OrderlyWeb.OrderLive.Index do
  use OrderlyWeb, :live_view

  alias Orderly.Sales

  @impl true
  def mount(_params, _session, socket) do
    {:ok, assign(socket, orders: Sales.recent_orders())}
  end

  @impl true
  def render(assigns) do
    ~H"""
    <.table id="orders" rows={@orders}>
      <:col :let={order} label="Number"><%= order.number %></:col>
      <:col :let={order} label="Status"><%= order.status %></:col>
      <:col :let={order} label="Total"><%= order.total_cents / 100 %></:col>
      <:col :let={order} label="Placed"><%= order.inserted_at %></:col>
    </.table>
    """
  end
end
