defmodule NewsroomWeb.SectionController do
  use NewsroomWeb, :controller

  alias Newsroom.Publishing

  def show(conn, %{"slug" => slug}) do
    section = Publishing.get_section_by_slug!(slug)
    articles = Publishing.list_section_articles(section)
    render(conn, :show, section: section, articles: articles)
  end
end
