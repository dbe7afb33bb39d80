defmodule ShopfloorWeb.Admin.DashboardLive do
  use ShopfloorWeb, :live_view

  alias Shopfloor.Reports

  @refresh_every :timer.seconds(30)

  def mount(_params, _session, socket) do
    if connected?(socket), do: :timer.send_interval(@refresh_every, :refresh)
    {:ok, load(socket)}
  end

  def handle_info(:refresh, socket), do: {:noreply, load(socket)}

  defp load(socket) do
    assign(socket,
      revenue: Reports.daily_revenue_by_category(),
      pending: Reports.pending_orders_count()
    )
  end
end
