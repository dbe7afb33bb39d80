defmodule Newsroom.Publishing do
  @moduledoc "Sections and the articles published in them."

  import Ecto.Query, warn: false
  alias Newsroom.Repo
  alias Newsroom.Publishing.{Article, Section}

  def list_sections do
    Repo.all(from s in Section, order_by: s.name)
  end

  def get_section_by_slug!(slug), do: Repo.get_by!(Section, slug: slug)

  def list_section_articles(%Section{id: section_id}) do
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at]
    )
    |> Repo.all()
  end

  def get_article_by_slug!(slug) do
    Article
    |> where([a], a.slug == ^slug and not is_nil(a.published_at))
    |> Repo.one!()
  end

  def create_article(attrs) do
    %Article{}
    |> Article.changeset(attrs)
    |> Repo.insert()
  end
end
