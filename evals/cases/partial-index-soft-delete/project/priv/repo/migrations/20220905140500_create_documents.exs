defmodule Inkwell.Repo.Migrations.CreateDocuments do
  use Ecto.Migration

  def change do
    create table(:documents) do
      add :title, :string, null: false
      add :status, :string, null: false, default: "draft"
      add :signer_email, :string
      add :sent_at, :utc_datetime
      add :account_id, references(:accounts, on_delete: :delete_all), null: false

      timestamps(type: :utc_datetime)
    end

    create index(:documents, [:account_id])
  end
end
