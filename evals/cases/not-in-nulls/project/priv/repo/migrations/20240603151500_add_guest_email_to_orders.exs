defmodule Mercato.Repo.Migrations.AddGuestEmailToOrders do
  use Ecto.Migration

  def change do
    alter table(:orders) do
      add :guest_email, :string
    end
  end
end
