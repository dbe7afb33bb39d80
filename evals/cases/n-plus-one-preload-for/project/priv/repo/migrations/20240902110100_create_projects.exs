defmodule Tracker.Repo.Migrations.CreateProjects do
  use Ecto.Migration

  def change do
    create table(:projects) do
      add :name, :string, null: false
      add :archived_at, :naive_datetime
      add :team_id, references(:teams, on_delete: :delete_all), null: false

      timestamps()
    end

    create index(:projects, [:team_id])
  end
end
