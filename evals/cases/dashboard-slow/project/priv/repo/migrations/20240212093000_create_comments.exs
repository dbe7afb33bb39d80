defmodule Helpdesk.Repo.Migrations.CreateComments do
  use Ecto.Migration

  def change do
    create table(:comments) do
      add :body, :text, null: false
      add :author, :string
      add :ticket_id, references(:tickets, on_delete: :delete_all), null: false

      timestamps()
    end
  end
end
