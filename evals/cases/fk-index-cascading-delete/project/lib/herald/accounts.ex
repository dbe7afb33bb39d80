defmodule Herald.Accounts do
  @moduledoc "Users, their sessions, and deleting an account with everything that belongs to it."

  import Ecto.Query, warn: false
  alias Herald.Repo
  alias Herald.Accounts.User

  def get_user!(id), do: Repo.get!(User, id)

  @doc """
  Deletes the account. Tokens and notifications go with it: their foreign keys are
  `on_delete: :delete_all`, so the database removes them in the same statement.
  """
  def delete_user(%User{} = user) do
    Repo.delete(user)
  end

  def request_deletion(%User{} = user) do
    user
    |> Ecto.Changeset.change(deletion_requested_at: DateTime.utc_now(:second))
    |> Repo.update()
  end

  def users_pending_deletion(limit) do
    from(u in User,
      where: not is_nil(u.deletion_requested_at),
      order_by: [asc: u.deletion_requested_at],
      limit: ^limit
    )
    |> Repo.all()
  end
end
