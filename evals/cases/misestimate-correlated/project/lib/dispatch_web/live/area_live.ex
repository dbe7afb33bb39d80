defmodule DispatchWeb.AreaLive.Show do
  use DispatchWeb, :live_view

  alias Dispatch.Delivery

  @impl true
  def mount(_params, _session, socket) do
    {:ok, socket}
  end

  @impl true
  def handle_params(%{"city" => city, "zip" => zip}, _uri, socket) do
    {:noreply,
     assign(socket,
       city: city,
       zip: zip,
       address_count: Delivery.address_count(city, zip),
       parcels: Delivery.recent_parcels_for_area(city, zip)
     )}
  end

  @impl true
  def render(assigns) do
    ~H"""
    <.header>
      <%= @city %> <%= @zip %>
      <:subtitle><%= @address_count %> delivery addresses</:subtitle>
    </.header>

    <.table id="parcels" rows={@parcels}>
      <:col :let={parcel} label="Tracking"><%= parcel.tracking_number %></:col>
      <:col :let={parcel} label="Status"><%= parcel.status %></:col>
      <:col :let={parcel} label="Street"><%= parcel.street %></:col>
      <:col :let={parcel} label="Received"><%= parcel.inserted_at %></:col>
    </.table>
    """
  end
end
