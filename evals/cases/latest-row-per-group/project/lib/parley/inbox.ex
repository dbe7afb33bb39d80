defmodule Parley.Inbox do
  @moduledoc "The support inbox: conversations with customers and their messages."

  import Ecto.Query, warn: false
  alias Parley.Repo
  alias Parley.Inbox.{Conversation, Message}

  @doc "The most recently active open conversations, each with a preview of its latest message."
  def list_conversations_with_latest_message(limit \\ 50) do
    conversations =
      from(c in Conversation,
        where: c.status == "open",
        order_by: [desc: c.updated_at],
        limit: ^limit
      )
      |> Repo.all()

    Enum.map(conversations, fn conversation ->
      %{conversation: conversation, latest_message: latest_message(conversation.id)}
    end)
  end

  defp latest_message(conversation_id) do
    from(m in Message,
      where: m.conversation_id == ^conversation_id,
      order_by: [desc: m.inserted_at],
      limit: 1
    )
    |> Repo.one()
  end

  def post_message(%Conversation{} = conversation, attrs) do
    %Message{conversation_id: conversation.id}
    |> Ecto.Changeset.cast(attrs, [:body, :sender])
    |> Repo.insert()
  end
end
