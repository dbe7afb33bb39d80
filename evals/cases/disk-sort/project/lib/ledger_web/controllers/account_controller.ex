defmodule LedgerWeb.AccountController do
  use LedgerWeb, :controller

  alias Ledger.Accounting

  def statement(conn, %{"id" => id, "from" => from, "to" => to}) do
    account = Accounting.get_account!(id)
    from = NaiveDateTime.new!(Date.from_iso8601!(from), ~T[00:00:00])
    to = NaiveDateTime.new!(Date.from_iso8601!(to), ~T[00:00:00])
    render(conn, :statement, account: account, entries: Accounting.account_statement(account, from, to))
  end
end
