defmodule Herald.Notifications.Notification do
  use Ecto.Schema

  schema "notifications" do
    field :kind, :string
    field :body, :string
    field :read_at, :utc_datetime
    belongs_to :user, Herald.Accounts.User

    timestamps()
  end
end
