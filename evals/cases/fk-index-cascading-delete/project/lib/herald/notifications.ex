defmodule Herald.Notifications do
  @moduledoc "The notification feed: what a user has not read yet, newest first."

  import Ecto.Query, warn: false
  alias Herald.Repo
  alias Herald.Notifications.Notification

  def list_unread(user_id, limit \\ 20) do
    from(n in Notification,
      where: n.user_id == ^user_id and is_nil(n.read_at),
      order_by: [desc: n.inserted_at],
      limit: ^limit
    )
    |> Repo.all()
  end

  def mark_read(%Notification{} = notification) do
    notification
    |> Ecto.Changeset.change(read_at: DateTime.utc_now(:second))
    |> Repo.update()
  end
end
