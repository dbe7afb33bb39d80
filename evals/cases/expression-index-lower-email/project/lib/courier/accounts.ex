defmodule Courier.Accounts do
  @moduledoc "Writers and readers who sign in to Courier."

  import Ecto.Query, warn: false
  alias Courier.Repo
  alias Courier.Accounts.User

  def get_user!(id), do: Repo.get!(User, id)

  @doc """
  Finds a user by email. Older accounts were stored with whatever casing people typed at
  signup, so the comparison ignores case.
  """
  def get_user_by_email(email) when is_binary(email) do
    normalized = email |> String.trim() |> String.downcase()
    Repo.one(from u in User, where: fragment("lower(?)", u.email) == ^normalized)
  end

  def get_user_by_email_and_password(email, password) when is_binary(email) and is_binary(password) do
    user = get_user_by_email(email)
    if User.valid_password?(user, password), do: user
  end

  def register_user(attrs) do
    %User{}
    |> User.registration_changeset(attrs)
    |> Repo.insert()
  end

  def record_login(%User{} = user) do
    user
    |> User.login_changeset()
    |> Repo.update()
  end
end
