defmodule Dispatch.Delivery.Customer do
  use Ecto.Schema

  schema "customers" do
    field :name, :string
    field :phone, :string
    has_many :addresses, Dispatch.Delivery.Address

    timestamps()
  end
end
