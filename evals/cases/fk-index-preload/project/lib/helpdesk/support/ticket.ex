defmodule Helpdesk.Support.Ticket do
  use Ecto.Schema
  import Ecto.Changeset

  schema "tickets" do
    field :subject, :string
    field :status, :string, default: "open"
    belongs_to :customer, Helpdesk.Support.Customer
    has_many :comments, Helpdesk.Support.Comment

    timestamps()
  end

  def changeset(ticket, attrs) do
    ticket
    |> cast(attrs, [:subject, :status, :customer_id])
    |> validate_required([:subject, :customer_id])
  end
end
