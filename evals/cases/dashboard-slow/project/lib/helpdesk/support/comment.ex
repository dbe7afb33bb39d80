defmodule Helpdesk.Support.Comment do
  use Ecto.Schema

  schema "comments" do
    field :body, :string
    field :author, :string
    belongs_to :ticket, Helpdesk.Support.Ticket

    timestamps()
  end
end
