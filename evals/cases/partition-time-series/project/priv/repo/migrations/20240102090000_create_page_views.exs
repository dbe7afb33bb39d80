defmodule Beacon.Repo.Migrations.CreatePageViews do
  use Ecto.Migration

  def change do
    create table(:page_views) do
      add :path, :string, null: false
      add :visitor_id, :bigint, null: false
      add :referrer, :text
      add :user_agent, :text

      timestamps(updated_at: false)
    end

    create index(:page_views, [:inserted_at])
    create index(:page_views, [:path, :inserted_at])
  end
end
