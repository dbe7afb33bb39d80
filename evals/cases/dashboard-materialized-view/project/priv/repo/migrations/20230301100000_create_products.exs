defmodule Shopfloor.Repo.Migrations.CreateProducts do
  use Ecto.Migration

  def change do
    create table(:products) do
      add :name, :string, null: false
      add :category, :string, null: false
      add :price_cents, :integer, null: false

      timestamps()
    end
  end
end
