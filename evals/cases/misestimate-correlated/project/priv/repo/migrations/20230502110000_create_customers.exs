defmodule Dispatch.Repo.Migrations.CreateCustomers do
  use Ecto.Migration

  def change do
    create table(:customers) do
      add :name, :string, null: false
      add :phone, :string

      timestamps()
    end
  end
end
