defmodule Beacon.Application do
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      Beacon.Repo,
      {Oban, Application.fetch_env!(:beacon, Oban)},
      BeaconWeb.Endpoint
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Beacon.Supervisor)
  end
end
