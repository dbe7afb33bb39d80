defmodule PulseWeb.ActivityJSON do
  alias Pulse.Activity.Event

  def index(%{account: account, events: events}) do
    %{account_id: account.id, data: Enum.map(events, &event/1)}
  end

  defp event(%Event{} = e) do
    %{
      id: e.id,
      name: e.name,
      subject: %{type: e.subject_type, id: e.subject_id},
      actor_id: e.actor_id,
      occurred_at: e.occurred_at
    }
  end
end
