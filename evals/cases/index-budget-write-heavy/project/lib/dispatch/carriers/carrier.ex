defmodule Dispatch.Carriers.Carrier do
  use Ecto.Schema
  import Ecto.Changeset

  schema "carriers" do
    field :name, :string
    field :scac, :string

    has_many :shipments, Dispatch.Shipments.Shipment

    timestamps()
  end

  def changeset(carrier, attrs) do
    carrier
    |> cast(attrs, [:name, :scac])
    |> validate_required([:name, :scac])
  end
end
