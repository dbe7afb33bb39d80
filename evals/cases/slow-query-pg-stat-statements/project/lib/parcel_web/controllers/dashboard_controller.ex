defmodule ParcelWeb.DashboardController do
  use ParcelWeb, :controller

  alias Parcel.Shipping

  def index(conn, _params) do
    counts = Map.new(~w(in_transit exception), &{&1, Shipping.count_by_status(&1)})
    json(conn, %{counts: counts})
  end

  def search(conn, %{"zip" => zip}) do
    json(conn, %{shipments: Enum.map(Shipping.search_by_zip(zip), &Map.take(&1, [:id, :tracking_number]))})
  end
end
