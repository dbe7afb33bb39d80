defmodule Tracker.Boards.Card do
  use Ecto.Schema
  import Ecto.Changeset

  schema "cards" do
    field :title, :string
    field :status, :string, default: "todo"
    field :position, :integer
    belongs_to :project, Tracker.Boards.Project

    timestamps()
  end

  def changeset(card, attrs) do
    card
    |> cast(attrs, [:title, :status, :position, :project_id])
    |> validate_required([:title, :position, :project_id])
    |> validate_inclusion(:status, ~w(todo doing review done))
  end
end
