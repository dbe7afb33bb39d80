defmodule Helpdesk.Repo.Migrations.CreateTickets do
  use Ecto.Migration

  def change do
    create table(:tickets) do
      add :subject, :string, null: false
      add :status, :string, null: false, default: "open"
      add :customer_id, references(:customers, on_delete: :delete_all), null: false

      timestamps()
    end

    create index(:tickets, [:customer_id])
  end
end
