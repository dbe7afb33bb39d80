defmodule Courier.Publishing.Newsletter do
  use Ecto.Schema

  schema "newsletters" do
    field :title, :string
    field :slug, :string
    belongs_to :user, Courier.Accounts.User

    timestamps(type: :utc_datetime)
  end
end
