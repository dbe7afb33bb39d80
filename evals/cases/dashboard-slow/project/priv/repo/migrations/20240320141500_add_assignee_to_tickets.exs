defmodule Helpdesk.Repo.Migrations.AddAssigneeToTickets do
  use Ecto.Migration

  def change do
    create table(:agents) do
      add :name, :string, null: false
      add :email, :string, null: false

      timestamps()
    end

    create unique_index(:agents, [:email])

    alter table(:tickets) do
      add :assignee_id, references(:agents, on_delete: :nilify_all)
      add :priority, :integer, null: false, default: 0
    end
  end
end
