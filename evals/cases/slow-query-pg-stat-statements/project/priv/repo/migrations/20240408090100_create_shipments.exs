defmodule Parcel.Repo.Migrations.CreateShipments do
  use Ecto.Migration

  def change do
    create table(:shipments) do
      add :tracking_number, :string, null: false
      add :status, :string, null: false, default: "label_created"
      add :destination_zip, :string
      add :carrier_id, references(:carriers, on_delete: :restrict), null: false

      timestamps()
    end

    create index(:shipments, [:carrier_id])
  end
end
