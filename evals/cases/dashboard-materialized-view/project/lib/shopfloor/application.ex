defmodule Shopfloor.Application do
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      Shopfloor.Repo,
      {Oban, Application.fetch_env!(:shopfloor, Oban)},
      ShopfloorWeb.Endpoint
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Shopfloor.Supervisor)
  end
end
