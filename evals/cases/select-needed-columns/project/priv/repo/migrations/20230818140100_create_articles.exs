defmodule Newsroom.Repo.Migrations.CreateArticles do
  use Ecto.Migration

  def change do
    create table(:articles) do
      add :title, :string, null: false
      add :slug, :string, null: false
      add :byline, :string
      add :summary, :text
      add :body, :text, null: false
      add :reading_minutes, :integer
      add :published_at, :naive_datetime
      add :section_id, references(:sections, on_delete: :restrict), null: false

      timestamps()
    end

    create unique_index(:articles, [:slug])
    create index(:articles, [:section_id])
  end
end
