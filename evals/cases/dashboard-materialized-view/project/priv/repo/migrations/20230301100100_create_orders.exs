defmodule Shopfloor.Repo.Migrations.CreateOrders do
  use Ecto.Migration

  def change do
    create table(:orders) do
      add :status, :string, null: false, default: "pending"
      add :customer_email, :string, null: false

      timestamps()
    end

    create index(:orders, [:status])
  end
end
