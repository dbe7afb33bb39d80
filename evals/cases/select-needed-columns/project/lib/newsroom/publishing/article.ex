defmodule Newsroom.Publishing.Article do
  use Ecto.Schema
  import Ecto.Changeset

  schema "articles" do
    field :title, :string
    field :slug, :string
    field :byline, :string
    field :summary, :string
    field :body, :string
    field :reading_minutes, :integer
    field :published_at, :naive_datetime
    belongs_to :section, Newsroom.Publishing.Section

    timestamps()
  end

  def changeset(article, attrs) do
    article
    |> cast(attrs, [:title, :slug, :byline, :summary, :body, :section_id, :published_at])
    |> validate_required([:title, :slug, :body, :section_id])
    |> unique_constraint(:slug)
    |> put_reading_minutes()
  end

  defp put_reading_minutes(changeset) do
    case get_change(changeset, :body) do
      nil -> changeset
      body -> put_change(changeset, :reading_minutes, max(1, div(length(String.split(body)), 230)))
    end
  end
end
