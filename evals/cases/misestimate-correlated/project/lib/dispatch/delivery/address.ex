defmodule Dispatch.Delivery.Address do
  use Ecto.Schema

  schema "addresses" do
    field :street, :string
    field :city, :string
    field :zip, :string
    belongs_to :customer, Dispatch.Delivery.Customer
    has_many :parcels, Dispatch.Delivery.Parcel

    timestamps()
  end
end
