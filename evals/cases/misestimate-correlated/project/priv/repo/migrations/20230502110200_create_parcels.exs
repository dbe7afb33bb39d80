defmodule Dispatch.Repo.Migrations.CreateParcels do
  use Ecto.Migration

  def change do
    create table(:parcels) do
      add :tracking_number, :string, null: false
      add :status, :string, null: false, default: "pending"
      add :weight_grams, :integer, null: false
      add :address_id, references(:addresses, on_delete: :restrict), null: false

      timestamps()
    end

    create unique_index(:parcels, [:tracking_number])
    create index(:parcels, [:address_id])
  end
end
