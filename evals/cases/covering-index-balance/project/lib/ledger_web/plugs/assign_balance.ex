defmodule LedgerWeb.Plugs.AssignBalance do
  @moduledoc "Every page shows the signed-in customer's balance in the header."

  import Plug.Conn

  def init(opts), do: opts

  def call(%Plug.Conn{assigns: %{current_customer: customer}} = conn, _opts) do
    assign(conn, :balance_cents, Ledger.Billing.balance(customer.id))
  end

  def call(conn, _opts), do: conn
end
