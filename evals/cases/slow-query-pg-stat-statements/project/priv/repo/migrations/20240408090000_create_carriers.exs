defmodule Parcel.Repo.Migrations.CreateCarriers do
  use Ecto.Migration

  def change do
    create table(:carriers) do
      add :name, :string, null: false
      add :code, :string, null: false

      timestamps()
    end

    create unique_index(:carriers, [:code])
  end
end
