defmodule PulseWeb.ActivityController do
  use PulseWeb, :controller

  alias Pulse.{Accounts, Activity}

  def index(conn, %{"account_id" => account_id} = params) do
    account = Accounts.get_account!(account_id)
    days = params |> Map.get("days", "30") |> String.to_integer()
    events = Activity.recent_events(account, days: days)
    render(conn, :index, account: account, events: events)
  end
end
