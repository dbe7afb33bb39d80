defmodule Ledger.Accounting.Account do
  use Ecto.Schema

  schema "accounts" do
    field :code, :string
    field :name, :string
    field :kind, Ecto.Enum, values: [:asset, :liability, :equity, :revenue, :expense]
    has_many :entries, Ledger.Accounting.Entry

    timestamps()
  end
end
