defmodule Tracker.Repo.Migrations.CreateCards do
  use Ecto.Migration

  def change do
    create table(:cards) do
      add :title, :string, null: false
      add :status, :string, null: false, default: "todo"
      add :position, :integer, null: false
      add :project_id, references(:projects, on_delete: :delete_all), null: false

      timestamps()
    end

    create index(:cards, [:project_id])
  end
end
