defmodule Shop.Repo.Migrations.CreateOrders do
  use Ecto.Migration

  def change do
    create table(:orders) do
      add :number, :string, null: false
      add :status, :string, null: false, default: "placed"
      add :total_cents, :integer, null: false
      add :store_id, references(:stores, on_delete: :restrict), null: false
      add :customer_id, references(:customers, on_delete: :restrict), null: false

      timestamps()
    end

    create unique_index(:orders, [:number])
    create index(:orders, [:store_id, :inserted_at])
    create index(:orders, [:customer_id])
  end
end
