defmodule NewsroomWeb.ArticleController do
  use NewsroomWeb, :controller

  alias Newsroom.Publishing

  def show(conn, %{"slug" => slug}) do
    article = Publishing.get_article_by_slug!(slug)
    render(conn, :show, article: article)
  end
end
