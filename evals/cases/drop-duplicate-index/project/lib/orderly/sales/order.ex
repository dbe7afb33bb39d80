defmodule Orderly.Sales.Order do
  use Ecto.Schema
  import Ecto.Changeset

  @statuses ~w(pending paid shipped delivered cancelled)

  schema "orders" do
    field :number, :string
    field :status, :string, default: "pending"
    field :total_cents, :integer
    field :legacy_ref, :string
    belongs_to :customer, Orderly.Sales.Customer

    timestamps()
  end

  def create_changeset(order, attrs) do
    order
    |> cast(attrs, [:customer_id, :total_cents])
    |> validate_required([:customer_id, :total_cents])
    |> validate_number(:total_cents, greater_than: 0)
    |> put_change(:number, generate_number())
    |> unique_constraint(:number)
    |> foreign_key_constraint(:customer_id)
  end

  def status_changeset(order, status) do
    order
    |> change(status: status)
    |> validate_inclusion(:status, @statuses)
  end

  defp generate_number do
    "ORD-" <> (System.unique_integer([:positive, :monotonic]) |> Integer.to_string() |> String.pad_leading(9, "0"))
  end
end
