defmodule Mercato.Repo.Migrations.CreateOrders do
  use Ecto.Migration

  def change do
    create table(:orders) do
      add :total_cents, :integer, null: false
      add :status, :string, null: false, default: "paid"
      add :customer_id, references(:customers, on_delete: :nilify_all)

      timestamps()
    end

    create index(:orders, [:customer_id])
  end
end
