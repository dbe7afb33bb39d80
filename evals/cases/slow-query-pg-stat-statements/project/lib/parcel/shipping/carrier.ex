defmodule Parcel.Shipping.Carrier do
  use Ecto.Schema

  schema "carriers" do
    field :name, :string
    field :code, :string
    has_many :shipments, Parcel.Shipping.Shipment

    timestamps()
  end
end
