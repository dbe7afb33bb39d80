defmodule Inkwell.Repo.Migrations.CreateAccounts do
  use Ecto.Migration

  def change do
    create table(:accounts) do
      add :name, :string, null: false
      add :billing_email, :string

      timestamps(type: :utc_datetime)
    end
  end
end
