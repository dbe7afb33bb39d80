defmodule PaylineWeb.Api.TransactionController do
  use PaylineWeb, :controller

  alias Payline.Payments

  def index(conn, params) do
    page = params |> Map.get("page", "1") |> String.to_integer()
    transactions = Payments.list_transactions(page)
    render(conn, :index, transactions: transactions, page: page)
  end

  def show(conn, %{"reference" => reference}) do
    transaction = Payments.get_transaction_by_reference!(reference)
    render(conn, :show, transaction: transaction)
  end
end
