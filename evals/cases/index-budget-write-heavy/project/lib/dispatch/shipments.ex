defmodule Dispatch.Shipments do
  @moduledoc """
  Shipments: created by the label API (thousands a second at peak), read by the carrier dashboard.
  """

  import Ecto.Query, warn: false
  alias Dispatch.Repo
  alias Dispatch.Shipments.Shipment

  @page 50

  def create_shipment(attrs) do
    %Shipment{}
    |> Shipment.changeset(attrs)
    |> Repo.insert()
  end

  @doc "The carrier dashboard's list: the newest shipments first."
  def recent_for_carrier(carrier_id) do
    from(s in Shipment,
      where: s.carrier_id == ^carrier_id,
      order_by: [desc: s.inserted_at],
      limit: @page
    )
    |> Repo.all()
  end

  @doc "The dashboard's counter: shipments since a point in time."
  def count_since(carrier_id, %NaiveDateTime{} = since) do
    from(s in Shipment,
      where: s.carrier_id == ^carrier_id and s.inserted_at >= ^since,
      select: count()
    )
    |> Repo.one()
  end

  @doc "Support looks up shipments to a postcode now and then."
  def to_zip(zip) do
    from(s in Shipment, where: s.destination_zip == ^zip)
    |> Repo.all()
  end
end
