defmodule Herald.Accounts.User do
  use Ecto.Schema
  import Ecto.Changeset

  schema "users" do
    field :email, :string
    field :name, :string
    field :deletion_requested_at, :utc_datetime

    has_many :tokens, Herald.Accounts.UserToken
    has_many :notifications, Herald.Notifications.Notification

    timestamps()
  end

  def changeset(user, attrs) do
    user
    |> cast(attrs, [:email, :name])
    |> validate_required([:email])
    |> unique_constraint(:email)
  end
end
