defmodule HelpdeskWeb.DashboardLive do
  use HelpdeskWeb, :live_view

  alias Helpdesk.Support

  @impl true
  def mount(_params, %{"agent_id" => agent_id}, socket) do
    {:ok, assign(socket, agent_id: agent_id, tickets: Support.dashboard_tickets(agent_id))}
  end

  @impl true
  def render(assigns) do
    ~H"""
    <h1>My open tickets</h1>
    <table>
      <tr :for={t <- @tickets}>
        <td><%= t.subject %></td>
        <td><%= t.customer.name %></td>
        <td><%= length(t.comments) %> comments</td>
      </tr>
    </table>
    """
  end
end
