defmodule LedgerWeb.Plugs.FetchCustomer do
  @moduledoc "Loads the signed-in customer from the session."

  import Plug.Conn

  alias Ledger.Accounts.Customer
  alias Ledger.Repo

  def init(opts), do: opts

  def call(conn, _opts) do
    case get_session(conn, :customer_id) do
      nil -> conn
      id -> assign(conn, :current_customer, Repo.get!(Customer, id))
    end
  end
end
