defmodule Pulse.Activity do
  @moduledoc "The activity feed: everything that happened in an account."

  import Ecto.Query, warn: false
  alias Pulse.Repo
  alias Pulse.Accounts.Account
  alias Pulse.Activity.Event

  @feed_size 100

  def recent_events(%Account{id: account_id}, opts \\ []) do
    days = Keyword.get(opts, :days, 30)
    since = DateTime.add(DateTime.utc_now(), -days, :day)

    from(e in Event,
      where: e.account_id == ^account_id and e.occurred_at >= ^since,
      order_by: [desc: e.occurred_at],
      limit: @feed_size
    )
    |> Repo.all()
  end

  def events_for_subject(subject_type, subject_id) do
    from(e in Event,
      where: e.subject_type == ^subject_type and e.subject_id == ^subject_id,
      order_by: [asc: e.occurred_at]
    )
    |> Repo.all()
  end

  def record(%Account{id: account_id}, attrs) do
    %Event{account_id: account_id}
    |> Event.changeset(Map.put_new(attrs, :occurred_at, DateTime.utc_now(:second)))
    |> Repo.insert()
  end
end
