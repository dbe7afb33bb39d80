defmodule LedgerWeb.JournalExportController do
  use LedgerWeb, :controller

  alias Ledger.Accounting

  def show(conn, %{"from" => from, "to" => to}) do
    from = NaiveDateTime.new!(Date.from_iso8601!(from), ~T[00:00:00])
    to = NaiveDateTime.new!(Date.from_iso8601!(to), ~T[00:00:00])
    entries = Accounting.journal_entries(from, to)

    csv =
      Enum.map_join(entries, "\n", fn e ->
        Enum.join([e.posted_at, e.journal_ref, e.account_id, e.amount_cents, e.currency, inspect(e.memo)], ",")
      end)

    send_download(conn, {:binary, "posted_at,journal,account,amount_cents,currency,memo\n" <> csv},
      filename: "journal-#{Date.to_iso8601(NaiveDateTime.to_date(from))}.csv"
    )
  end
end
