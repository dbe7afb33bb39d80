defmodule Dispatch.Repo.Migrations.AddParcelsInsertedAtIndex do
  use Ecto.Migration

  @disable_ddl_transaction true
  @disable_migration_lock true

  def change do
    create index(:parcels, [:inserted_at], concurrently: true)
  end
end
