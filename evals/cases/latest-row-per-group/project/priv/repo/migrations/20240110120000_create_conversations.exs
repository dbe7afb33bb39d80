defmodule Parley.Repo.Migrations.CreateConversations do
  use Ecto.Migration

  def change do
    create table(:conversations) do
      add :subject, :string, null: false
      add :customer_name, :string, null: false
      add :status, :string, null: false, default: "open"

      timestamps()
    end

    create index(:conversations, [:status, :updated_at])
  end
end
