defmodule BeaconWeb.DashboardLive do
  use BeaconWeb, :live_view

  alias Beacon.Analytics

  def mount(_params, _session, socket) do
    today = Date.utc_today()
    from = NaiveDateTime.new!(Date.add(today, -30), ~T[00:00:00])
    to = NaiveDateTime.new!(Date.add(today, 1), ~T[00:00:00])

    {:ok,
     assign(socket,
       top_paths: Analytics.top_paths(7),
       daily_visitors: Analytics.daily_visitors(from, to)
     )}
  end
end
