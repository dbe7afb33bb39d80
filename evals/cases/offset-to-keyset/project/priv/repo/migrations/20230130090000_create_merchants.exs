defmodule Payline.Repo.Migrations.CreateMerchants do
  use Ecto.Migration

  def change do
    create table(:merchants) do
      add :name, :string, null: false
      add :country, :string, size: 2

      timestamps(type: :utc_datetime)
    end
  end
end
