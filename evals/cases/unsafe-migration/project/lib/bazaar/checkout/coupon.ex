defmodule Bazaar.Checkout.Coupon do
  use Ecto.Schema
  import Ecto.Changeset

  schema "coupons" do
    field :code, :string
    field :percent_off, :integer
    field :expires_at, :utc_datetime

    timestamps()
  end

  def changeset(coupon, attrs) do
    coupon
    |> cast(attrs, [:code, :percent_off, :expires_at])
    |> validate_required([:code, :percent_off])
    |> validate_number(:percent_off, greater_than: 0, less_than_or_equal_to: 100)
    |> update_change(:code, &String.upcase/1)
    |> unique_constraint(:code)
  end
end
