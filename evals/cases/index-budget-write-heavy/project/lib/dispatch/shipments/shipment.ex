defmodule Dispatch.Shipments.Shipment do
  use Ecto.Schema
  import Ecto.Changeset

  schema "shipments" do
    field :tracking_number, :string
    field :state, :string, default: "label_created"
    field :weight_grams, :integer
    field :destination_zip, :string
    field :destination_country, :string
    belongs_to :carrier, Dispatch.Carriers.Carrier

    timestamps()
  end

  def changeset(shipment, attrs) do
    shipment
    |> cast(attrs, [:tracking_number, :state, :weight_grams, :destination_zip, :destination_country, :carrier_id])
    |> validate_required([:tracking_number, :weight_grams, :destination_zip, :destination_country, :carrier_id])
  end
end
