defmodule PaylineWeb.Api.TransactionJSON do
  alias Payline.Payments
  alias Payline.Payments.Transaction

  def index(%{transactions: transactions, page: page}) do
    %{
      data: Enum.map(transactions, &data/1),
      page: page,
      next_page: if(length(transactions) == Payments.per_page(), do: page + 1)
    }
  end

  def show(%{transaction: transaction}), do: %{data: data(transaction)}

  defp data(%Transaction{} = t) do
    %{
      id: t.id,
      reference: t.reference,
      amount_cents: t.amount_cents,
      currency: t.currency,
      status: t.status,
      merchant_id: t.merchant_id,
      created_at: t.inserted_at
    }
  end
end
