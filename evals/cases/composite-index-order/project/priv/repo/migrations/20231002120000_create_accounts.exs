defmodule Pulse.Repo.Migrations.CreateAccounts do
  use Ecto.Migration

  def change do
    create table(:accounts) do
      add :name, :string, null: false
      add :plan, :string, null: false, default: "starter"

      timestamps()
    end
  end
end
