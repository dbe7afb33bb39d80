defmodule Inkwell.Documents do
  @moduledoc "Documents sent out for signature."

  import Ecto.Query, warn: false
  alias Inkwell.Repo
  alias Inkwell.Documents.Document

  def not_deleted(query \\ Document), do: where(query, [d], is_nil(d.deleted_at))

  def list_account_documents(account_id) do
    Document
    |> not_deleted()
    |> where([d], d.account_id == ^account_id)
    |> order_by([d], desc: d.inserted_at)
    |> limit(100)
    |> Repo.all()
  end

  def get_document!(id), do: Document |> not_deleted() |> Repo.get!(id)

  def awaiting_signature do
    Document
    |> not_deleted()
    |> where([d], d.status == "pending")
  end

  def list_awaiting_signature do
    awaiting_signature()
    |> order_by([d], asc: d.sent_at)
    |> limit(50)
    |> Repo.all()
  end

  def count_awaiting_signature do
    Repo.aggregate(awaiting_signature(), :count)
  end

  def send_for_signature(%Document{} = document) do
    document
    |> Document.status_changeset("pending")
    |> Ecto.Changeset.put_change(:sent_at, DateTime.utc_now(:second))
    |> Repo.update()
  end

  def soft_delete(%Document{} = document) do
    document
    |> Ecto.Changeset.change(deleted_at: DateTime.utc_now(:second))
    |> Repo.update()
  end
end
