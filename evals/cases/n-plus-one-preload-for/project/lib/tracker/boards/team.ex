defmodule Tracker.Boards.Team do
  use Ecto.Schema

  schema "teams" do
    field :name, :string
    has_many :projects, Tracker.Boards.Project

    timestamps()
  end
end
