defmodule Dispatch.Delivery.Parcel do
  use Ecto.Schema

  schema "parcels" do
    field :tracking_number, :string
    field :status, :string, default: "pending"
    field :weight_grams, :integer
    belongs_to :address, Dispatch.Delivery.Address

    timestamps()
  end
end
