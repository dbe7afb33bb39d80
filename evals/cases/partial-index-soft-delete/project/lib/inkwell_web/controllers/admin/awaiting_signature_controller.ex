defmodule InkwellWeb.Admin.AwaitingSignatureController do
  use InkwellWeb, :controller

  alias Inkwell.Documents

  def index(conn, _params) do
    total = Documents.count_awaiting_signature()
    documents = Documents.list_awaiting_signature()
    render(conn, :index, documents: documents, total: total)
  end
end
