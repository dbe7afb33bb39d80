defmodule Pulse.Accounts.Account do
  use Ecto.Schema
  import Ecto.Changeset

  schema "accounts" do
    field :name, :string
    field :plan, :string, default: "starter"
    has_many :events, Pulse.Activity.Event

    timestamps()
  end

  def changeset(account, attrs) do
    account
    |> cast(attrs, [:name, :plan])
    |> validate_required([:name])
    |> validate_inclusion(:plan, ~w(starter team enterprise))
  end
end
