defmodule Helpdesk.Support do
  @moduledoc "Tickets, their comments and the customers who open them."

  import Ecto.Query, warn: false
  alias Helpdesk.Repo
  alias Helpdesk.Support.{Comment, Customer, Ticket}

  def get_ticket_with_comments!(id) do
    Ticket
    |> Repo.get!(id)
    |> Repo.preload(comments: from(c in Comment, order_by: c.inserted_at))
  end

  @doc "The open tickets on an agent's dashboard, newest first, with their customer and comments."
  def dashboard_tickets(agent_id) do
    tickets =
      from(t in Ticket,
        where: t.assignee_id == ^agent_id and t.status == "open",
        order_by: [desc: t.inserted_at],
        limit: 20
      )
      |> Repo.all()
      |> Repo.preload(:comments)

    Enum.map(tickets, fn ticket ->
      %{ticket | customer: Repo.get(Customer, ticket.customer_id)}
    end)
  end

  def add_comment(%Ticket{} = ticket, attrs) do
    %Comment{ticket_id: ticket.id}
    |> Ecto.Changeset.cast(attrs, [:body, :author])
    |> Repo.insert()
  end
end
