defmodule DispatchWeb.DashboardController do
  use DispatchWeb, :controller

  alias Dispatch.Shipments

  def show(conn, %{"carrier_id" => carrier_id}) do
    carrier_id = String.to_integer(carrier_id)
    since = NaiveDateTime.add(NaiveDateTime.utc_now(), -24 * 3600)

    render(conn, :show,
      shipments: Shipments.recent_for_carrier(carrier_id),
      last_24h: Shipments.count_since(carrier_id, since)
    )
  end
end
