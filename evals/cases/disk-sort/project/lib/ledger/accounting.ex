defmodule Ledger.Accounting do
  @moduledoc "Accounts, journal entries and the exports finance needs."

  import Ecto.Query, warn: false
  alias Ledger.Repo
  alias Ledger.Accounting.{Account, Entry}

  def get_account!(id), do: Repo.get!(Account, id)

  def account_statement(%Account{id: account_id}, from, to) do
    from(e in Entry,
      where: e.account_id == ^account_id and e.posted_at >= ^from and e.posted_at < ^to,
      order_by: [asc: e.posted_at]
    )
    |> Repo.all()
  end

  @doc "Every entry posted in [from, to), in posting order: the journal export for the auditors."
  def journal_entries(from, to) do
    from(e in Entry,
      where: e.posted_at >= ^from and e.posted_at < ^to,
      order_by: [asc: e.posted_at, asc: e.id]
    )
    |> Repo.all()
  end
end
