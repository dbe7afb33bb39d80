defmodule Mercato.Sales.Order do
  use Ecto.Schema
  import Ecto.Changeset

  schema "orders" do
    field :total_cents, :integer
    field :status, :string, default: "paid"
    field :guest_email, :string
    belongs_to :customer, Mercato.Accounts.Customer

    timestamps()
  end

  def changeset(order, attrs) do
    order
    |> cast(attrs, [:total_cents, :status, :customer_id, :guest_email])
    |> validate_required([:total_cents])
    |> validate_customer_or_guest()
  end

  defp validate_customer_or_guest(changeset) do
    if get_field(changeset, :customer_id) || get_field(changeset, :guest_email) do
      changeset
    else
      add_error(changeset, :guest_email, "can't be blank for a guest checkout")
    end
  end
end
