defmodule Bazaar.Repo.Migrations.AddDiscountCentsToOrders do
  use Ecto.Migration

  def change do
    alter table(:orders) do
      add :discount_cents, :integer, null: false, default: 0
    end
  end
end
