defmodule Shopfloor.Catalog.Product do
  use Ecto.Schema

  schema "products" do
    field :name, :string
    field :category, :string
    field :price_cents, :integer

    timestamps()
  end
end
