defmodule Helpdesk.Support.Ticket do
  use Ecto.Schema
  import Ecto.Changeset

  schema "tickets" do
    field :subject, :string
    field :status, :string, default: "open"
    field :priority, :integer, default: 0
    belongs_to :customer, Helpdesk.Support.Customer
    belongs_to :assignee, Helpdesk.Support.Agent
    has_many :comments, Helpdesk.Support.Comment

    timestamps()
  end

  def changeset(ticket, attrs) do
    ticket
    |> cast(attrs, [:subject, :status, :priority, :customer_id, :assignee_id])
    |> validate_required([:subject, :customer_id])
  end
end
