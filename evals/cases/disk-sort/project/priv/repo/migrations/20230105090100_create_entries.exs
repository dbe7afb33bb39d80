defmodule Ledger.Repo.Migrations.CreateEntries do
  use Ecto.Migration

  def change do
    create table(:entries) do
      add :journal_ref, :string, null: false
      add :amount_cents, :bigint, null: false
      add :currency, :string, size: 3, null: false, default: "EUR"
      add :memo, :string
      add :posted_at, :naive_datetime, null: false
      add :account_id, references(:accounts, on_delete: :restrict), null: false

      timestamps()
    end

    create index(:entries, [:account_id, :posted_at])
    create index(:entries, [:journal_ref])
  end
end
