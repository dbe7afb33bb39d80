defmodule Tracker.Boards.Project do
  use Ecto.Schema
  import Ecto.Changeset

  schema "projects" do
    field :name, :string
    field :archived_at, :naive_datetime
    field :open_count, :integer, virtual: true
    belongs_to :team, Tracker.Boards.Team
    has_many :cards, Tracker.Boards.Card

    timestamps()
  end

  def changeset(project, attrs) do
    project
    |> cast(attrs, [:name, :team_id])
    |> validate_required([:name, :team_id])
  end
end
