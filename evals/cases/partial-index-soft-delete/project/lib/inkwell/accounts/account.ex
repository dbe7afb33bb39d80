defmodule Inkwell.Accounts.Account do
  use Ecto.Schema

  schema "accounts" do
    field :name, :string
    field :billing_email, :string
    has_many :documents, Inkwell.Documents.Document

    timestamps(type: :utc_datetime)
  end
end
