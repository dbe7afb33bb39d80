defmodule Shop.Repo.Migrations.CreateStores do
  use Ecto.Migration

  def change do
    create table(:stores) do
      add :name, :string, null: false
      add :currency, :string, null: false, default: "EUR"

      timestamps()
    end
  end
end
