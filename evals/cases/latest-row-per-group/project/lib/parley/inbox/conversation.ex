defmodule Parley.Inbox.Conversation do
  use Ecto.Schema

  schema "conversations" do
    field :subject, :string
    field :customer_name, :string
    field :status, :string, default: "open"
    has_many :messages, Parley.Inbox.Message

    timestamps()
  end
end
