defmodule Helpdesk.Support do
  @moduledoc "Tickets, their comments and the customers who open them."

  import Ecto.Query, warn: false
  alias Helpdesk.Repo
  alias Helpdesk.Support.{Comment, Ticket}

  def get_ticket_with_comments!(id) do
    Ticket
    |> Repo.get!(id)
    |> Repo.preload(comments: from(c in Comment, order_by: c.inserted_at))
  end

  def add_comment(%Ticket{} = ticket, attrs) do
    %Comment{ticket_id: ticket.id}
    |> Ecto.Changeset.cast(attrs, [:body, :author])
    |> Repo.insert()
  end
end
