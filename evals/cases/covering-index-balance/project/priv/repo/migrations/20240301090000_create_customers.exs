defmodule Ledger.Repo.Migrations.CreateCustomers do
  use Ecto.Migration

  def change do
    create table(:customers) do
      add :name, :string, null: false
      add :email, :string, null: false
      add :currency, :string, null: false, default: "EUR"

      timestamps()
    end

    create unique_index(:customers, [:email])
  end
end
