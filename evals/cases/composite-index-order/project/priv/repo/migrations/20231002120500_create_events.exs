defmodule Pulse.Repo.Migrations.CreateEvents do
  use Ecto.Migration

  def change do
    create table(:events) do
      add :name, :string, null: false
      add :subject_type, :string
      add :subject_id, :bigint
      add :actor_id, :bigint
      add :occurred_at, :utc_datetime, null: false
      add :account_id, references(:accounts, on_delete: :delete_all), null: false

      timestamps(updated_at: false)
    end

    create index(:events, [:account_id])
    create index(:events, [:subject_type, :subject_id])
  end
end
