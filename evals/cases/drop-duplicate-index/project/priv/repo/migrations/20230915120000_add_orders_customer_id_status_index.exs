defmodule Orderly.Repo.Migrations.AddOrdersCustomerIdStatusIndex do
  use Ecto.Migration

  @disable_ddl_transaction true
  @disable_migration_lock true

  def change do
    create index(:orders, [:customer_id, :status], concurrently: true)
  end
end
