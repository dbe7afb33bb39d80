defmodule InkwellWeb.DocumentController do
  use InkwellWeb, :controller

  alias Inkwell.Documents

  def index(conn, _params) do
    documents = Documents.list_account_documents(conn.assigns.current_account.id)
    render(conn, :index, documents: documents)
  end

  def show(conn, %{"id" => id}) do
    document = Documents.get_document!(id)
    render(conn, :show, document: document)
  end
end
