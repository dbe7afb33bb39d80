defmodule Inkwell.Documents.Document do
  use Ecto.Schema
  import Ecto.Changeset

  @statuses ~w(draft pending signed declined expired)

  schema "documents" do
    field :title, :string
    field :status, :string, default: "draft"
    field :signer_email, :string
    field :sent_at, :utc_datetime
    field :deleted_at, :utc_datetime
    belongs_to :account, Inkwell.Accounts.Account

    timestamps(type: :utc_datetime)
  end

  def changeset(document, attrs) do
    document
    |> cast(attrs, [:title, :signer_email])
    |> validate_required([:title])
    |> validate_format(:signer_email, ~r/@/)
  end

  def status_changeset(document, status) when status in @statuses do
    change(document, status: status)
  end
end
