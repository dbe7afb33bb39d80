defmodule Tracker.Boards do
  @moduledoc "A team's board: its active projects and the cards still open in each."

  import Ecto.Query, warn: false
  alias Tracker.Repo
  alias Tracker.Boards.{Card, Project}

  def subscribe(team_id), do: Phoenix.PubSub.subscribe(Tracker.PubSub, "board:#{team_id}")

  def list_projects_with_open_cards(team_id) do
    projects =
      from(p in Project,
        where: p.team_id == ^team_id and is_nil(p.archived_at),
        order_by: [asc: p.name]
      )
      |> Repo.all()

    open_cards = from(c in Card, where: c.status != "done", order_by: [asc: c.position])

    for project <- projects do
      project = Repo.preload(project, cards: open_cards)
      %{project | open_count: length(project.cards)}
    end
  end

  def move_card(%Card{} = card, status) do
    with {:ok, card} <- card |> Card.changeset(%{status: status}) |> Repo.update() do
      project = Repo.get!(Project, card.project_id)
      Phoenix.PubSub.broadcast(Tracker.PubSub, "board:#{project.team_id}", {:card_updated, card})
      {:ok, card}
    end
  end
end
