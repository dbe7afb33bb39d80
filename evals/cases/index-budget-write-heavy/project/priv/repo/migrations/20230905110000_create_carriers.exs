defmodule Dispatch.Repo.Migrations.CreateCarriers do
  use Ecto.Migration

  def change do
    create table(:carriers) do
      add :name, :string, null: false
      add :scac, :string, null: false

      timestamps()
    end
  end
end
