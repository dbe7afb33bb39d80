defmodule Bazaar.Repo.Migrations.AddCouponToOrders do
  use Ecto.Migration

  def change do
    alter table(:orders) do
      add :coupon_id, references(:coupons, on_delete: :nilify_all)
    end

    create index(:orders, [:coupon_id])
  end
end
