defmodule Dispatch.Repo.Migrations.CreateAddresses do
  use Ecto.Migration

  def change do
    create table(:addresses) do
      add :street, :string, null: false
      add :city, :string, null: false
      add :zip, :string, null: false
      add :customer_id, references(:customers, on_delete: :delete_all), null: false

      timestamps()
    end

    create index(:addresses, [:customer_id])
    create index(:addresses, [:zip])
  end
end
