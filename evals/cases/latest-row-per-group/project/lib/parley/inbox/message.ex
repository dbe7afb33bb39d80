defmodule Parley.Inbox.Message do
  use Ecto.Schema

  schema "messages" do
    field :body, :string
    field :sender, :string
    belongs_to :conversation, Parley.Inbox.Conversation

    timestamps()
  end
end
