defmodule Bazaar.Repo.Migrations.AddOrdersCustomerIdIndex do
  use Ecto.Migration

  def change do
    create index(:orders, [:customer_id])
  end
end
