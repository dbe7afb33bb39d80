defmodule Parley.Repo.Migrations.CreateMessages do
  use Ecto.Migration

  def change do
    create table(:messages) do
      add :conversation_id, references(:conversations, on_delete: :delete_all), null: false
      add :body, :text, null: false
      add :sender, :string, null: false

      timestamps()
    end

    create index(:messages, [:conversation_id, :inserted_at])
  end
end
