defmodule Payline.Repo.Migrations.CreateTransactions do
  use Ecto.Migration

  def change do
    create table(:transactions) do
      add :reference, :string, null: false
      add :amount_cents, :integer, null: false
      add :currency, :string, size: 3, null: false
      add :status, :string, null: false, default: "pending"
      add :merchant_id, references(:merchants, on_delete: :restrict), null: false

      timestamps(type: :utc_datetime)
    end

    create unique_index(:transactions, [:reference])
    create index(:transactions, [:merchant_id, :inserted_at])
  end
end
