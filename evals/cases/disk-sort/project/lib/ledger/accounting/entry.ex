defmodule Ledger.Accounting.Entry do
  use Ecto.Schema

  schema "entries" do
    field :journal_ref, :string
    field :amount_cents, :integer
    field :currency, :string, default: "EUR"
    field :memo, :string
    field :posted_at, :naive_datetime
    belongs_to :account, Ledger.Accounting.Account

    timestamps()
  end
end
