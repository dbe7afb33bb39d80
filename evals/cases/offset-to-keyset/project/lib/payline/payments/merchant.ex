defmodule Payline.Payments.Merchant do
  use Ecto.Schema

  schema "merchants" do
    field :name, :string
    field :country, :string
    has_many :transactions, Payline.Payments.Transaction

    timestamps(type: :utc_datetime)
  end
end
