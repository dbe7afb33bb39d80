defmodule Dispatch.Repo.Migrations.CreateShipments do
  use Ecto.Migration

  def change do
    create table(:shipments) do
      add :tracking_number, :string, null: false
      add :state, :string, null: false, default: "label_created"
      add :weight_grams, :integer, null: false
      add :destination_zip, :string, null: false
      add :destination_country, :string, null: false
      add :carrier_id, references(:carriers, on_delete: :restrict), null: false

      timestamps()
    end

    create index(:shipments, [:carrier_id])
  end
end
