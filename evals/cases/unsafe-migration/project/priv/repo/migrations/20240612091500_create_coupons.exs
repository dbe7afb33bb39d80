defmodule Bazaar.Repo.Migrations.CreateCoupons do
  use Ecto.Migration

  def change do
    create table(:coupons) do
      add :code, :string, null: false
      add :percent_off, :integer, null: false
      add :expires_at, :utc_datetime

      timestamps()
    end

    create unique_index(:coupons, [:code])
  end
end
