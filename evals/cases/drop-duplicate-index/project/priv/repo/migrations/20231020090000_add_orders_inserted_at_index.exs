defmodule Orderly.Repo.Migrations.AddOrdersInsertedAtIndex do
  use Ecto.Migration

  @disable_ddl_transaction true
  @disable_migration_lock true

  def change do
    create index(:orders, [:inserted_at], concurrently: true)
  end
end
