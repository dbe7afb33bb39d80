defmodule Parcel.Shipping do
  @moduledoc "Shipments, the carriers that move them, and the status updates carriers push to us."

  import Ecto.Query, warn: false
  alias Parcel.Repo
  alias Parcel.Shipping.{Carrier, Shipment}

  def get_carrier!(id), do: Repo.get!(Carrier, id)

  @doc "A carrier's webhook names its own tracking number; we look the shipment up by both."
  def find_shipment(%Carrier{id: carrier_id}, tracking_number) do
    Repo.get_by(Shipment, carrier_id: carrier_id, tracking_number: tracking_number)
  end

  def record_status(%Shipment{} = shipment, status) do
    shipment
    |> Shipment.status_changeset(%{status: status})
    |> Repo.update()
  end

  @doc "Support staff search by destination ZIP code."
  def search_by_zip(zip) do
    from(s in Shipment, where: s.destination_zip == ^zip, order_by: [desc: s.inserted_at], limit: 20)
    |> Repo.all()
  end

  @doc "The operations dashboard's counters."
  def count_by_status(status) do
    from(s in Shipment, where: s.status == ^status)
    |> Repo.aggregate(:count)
  end

  def recent_for_carrier(%Carrier{id: carrier_id}, limit \\ 50) do
    from(s in Shipment, where: s.carrier_id == ^carrier_id, order_by: [desc: s.id], limit: ^limit)
    |> Repo.all()
  end
end
