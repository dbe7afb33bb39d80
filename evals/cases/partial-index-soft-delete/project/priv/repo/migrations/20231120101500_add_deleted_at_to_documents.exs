defmodule Inkwell.Repo.Migrations.AddDeletedAtToDocuments do
  use Ecto.Migration

  def change do
    alter table(:documents) do
      add :deleted_at, :utc_datetime
    end

    create index(:documents, [:signer_email])
  end
end
