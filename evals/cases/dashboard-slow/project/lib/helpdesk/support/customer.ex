defmodule Helpdesk.Support.Customer do
  use Ecto.Schema

  schema "customers" do
    field :name, :string
    has_many :tickets, Helpdesk.Support.Ticket

    timestamps()
  end
end
