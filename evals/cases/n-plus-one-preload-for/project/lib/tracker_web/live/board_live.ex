defmodule TrackerWeb.BoardLive do
  use TrackerWeb, :live_view

  alias Tracker.Boards

  @impl true
  def mount(_params, _session, socket) do
    team = socket.assigns.current_team
    if connected?(socket), do: Boards.subscribe(team.id)

    {:ok, assign(socket, team: team, projects: Boards.list_projects_with_open_cards(team.id))}
  end

  @impl true
  def handle_info({:card_updated, _card}, socket) do
    {:noreply, assign(socket, projects: Boards.list_projects_with_open_cards(socket.assigns.team.id))}
  end

  @impl true
  def render(assigns) do
    ~H"""
    <h1 class="text-lg font-semibold">{@team.name}</h1>
    <div class="flex gap-4 overflow-x-auto">
      <section :for={project <- @projects} class="w-72 shrink-0">
        <h2>{project.name} <span class="text-zinc-500">({project.open_count})</span></h2>
        <ul>
          <li :for={card <- project.cards} id={"card-#{card.id}"}>{card.title}</li>
        </ul>
      </section>
    </div>
    """
  end
end
