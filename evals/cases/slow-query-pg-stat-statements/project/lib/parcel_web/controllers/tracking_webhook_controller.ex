defmodule ParcelWeb.TrackingWebhookController do
  use ParcelWeb, :controller

  alias Parcel.Shipping

  # Carriers push every scan of every parcel here: thousands of calls a minute at peak.
  def create(conn, %{"carrier_id" => carrier_id, "tracking_number" => number, "status" => status}) do
    carrier = Shipping.get_carrier!(carrier_id)

    case Shipping.find_shipment(carrier, number) do
      nil ->
        send_resp(conn, 404, "")

      shipment ->
        {:ok, _} = Shipping.record_status(shipment, status)
        send_resp(conn, 204, "")
    end
  end
end
