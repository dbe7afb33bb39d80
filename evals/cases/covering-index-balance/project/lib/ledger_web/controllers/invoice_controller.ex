defmodule LedgerWeb.InvoiceController do
  use LedgerWeb, :controller

  alias Ledger.Billing

  def index(conn, _params) do
    customer = conn.assigns.current_customer
    invoices = Billing.list_invoices(customer.id)
    render(conn, :index, invoices: invoices, balance_cents: conn.assigns.balance_cents)
  end
end
