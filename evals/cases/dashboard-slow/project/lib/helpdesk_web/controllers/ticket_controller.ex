defmodule HelpdeskWeb.TicketController do
  use HelpdeskWeb, :controller

  alias Helpdesk.Support

  def show(conn, %{"id" => id}) do
    ticket = Support.get_ticket_with_comments!(id)
    render(conn, :show, ticket: ticket)
  end
end
