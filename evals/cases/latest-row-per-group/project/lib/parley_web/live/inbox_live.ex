defmodule ParleyWeb.InboxLive do
  use ParleyWeb, :live_view

  alias Parley.Inbox

  def mount(_params, _session, socket) do
    {:ok, assign(socket, rows: Inbox.list_conversations_with_latest_message())}
  end

  def render(assigns) do
    ~H"""
    <ul>
      <li :for={row <- @rows}>
        <strong>{row.conversation.subject}</strong>
        <span :if={row.latest_message}>{row.latest_message.sender}: {row.latest_message.body}</span>
      </li>
    </ul>
    """
  end
end
