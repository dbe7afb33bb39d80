defmodule Herald.Repo.Migrations.CreateNotifications do
  use Ecto.Migration

  def change do
    create table(:notifications) do
      add :user_id, references(:users, on_delete: :delete_all), null: false
      add :kind, :string, null: false
      add :body, :text
      add :read_at, :utc_datetime

      timestamps()
    end

    # The unread badge and feed only ever look at unread notifications.
    create index(:notifications, [:user_id, :inserted_at],
             where: "read_at IS NULL",
             name: :notifications_unread_index
           )
  end
end
