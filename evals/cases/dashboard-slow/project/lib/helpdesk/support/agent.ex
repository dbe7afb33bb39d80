defmodule Helpdesk.Support.Agent do
  use Ecto.Schema

  schema "agents" do
    field :name, :string
    field :email, :string
    has_many :tickets, Helpdesk.Support.Ticket, foreign_key: :assignee_id

    timestamps()
  end
end
