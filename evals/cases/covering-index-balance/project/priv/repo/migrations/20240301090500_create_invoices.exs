defmodule Ledger.Repo.Migrations.CreateInvoices do
  use Ecto.Migration

  def change do
    create table(:invoices) do
      add :number, :string, null: false
      add :amount_cents, :bigint, null: false
      add :status, :string, null: false, default: "open"
      add :issued_on, :date, null: false
      add :memo, :text
      add :customer_id, references(:customers, on_delete: :restrict), null: false

      timestamps()
    end

    create index(:invoices, [:customer_id])
  end
end
