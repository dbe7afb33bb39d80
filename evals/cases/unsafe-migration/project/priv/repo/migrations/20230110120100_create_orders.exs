defmodule Bazaar.Repo.Migrations.CreateOrders do
  use Ecto.Migration

  def change do
    create table(:orders) do
      add :number, :string, null: false
      add :status, :string, null: false, default: "pending"
      add :total_cents, :integer, null: false
      add :customer_id, references(:customers, on_delete: :restrict), null: false

      timestamps()
    end

    create unique_index(:orders, [:number])
  end
end
