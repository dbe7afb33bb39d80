defmodule Parcel.Shipping.Shipment do
  use Ecto.Schema
  import Ecto.Changeset

  @statuses ~w(label_created in_transit out_for_delivery delivered exception)

  schema "shipments" do
    field :tracking_number, :string
    field :status, :string, default: "label_created"
    field :destination_zip, :string
    belongs_to :carrier, Parcel.Shipping.Carrier

    timestamps()
  end

  def status_changeset(shipment, attrs) do
    shipment
    |> cast(attrs, [:status])
    |> validate_inclusion(:status, @statuses)
  end
end
