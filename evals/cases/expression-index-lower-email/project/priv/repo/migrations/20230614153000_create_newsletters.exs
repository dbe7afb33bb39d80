defmodule Courier.Repo.Migrations.CreateNewsletters do
  use Ecto.Migration

  def change do
    create table(:newsletters) do
      add :title, :string, null: false
      add :slug, :string, null: false
      add :user_id, references(:users, on_delete: :delete_all), null: false

      timestamps(type: :utc_datetime)
    end

    create unique_index(:newsletters, [:slug])
    create index(:newsletters, [:user_id])
  end
end
