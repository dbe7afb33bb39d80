defmodule Pulse.Activity.Event do
  use Ecto.Schema
  import Ecto.Changeset

  schema "events" do
    field :name, :string
    field :subject_type, :string
    field :subject_id, :integer
    field :actor_id, :integer
    field :occurred_at, :utc_datetime
    belongs_to :account, Pulse.Accounts.Account

    timestamps(updated_at: false)
  end

  def changeset(event, attrs) do
    event
    |> cast(attrs, [:name, :subject_type, :subject_id, :actor_id, :occurred_at, :account_id])
    |> validate_required([:name, :occurred_at, :account_id])
  end
end
