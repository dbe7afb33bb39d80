defmodule Payline.Payments do
  @moduledoc "Card transactions processed for merchants."

  import Ecto.Query, warn: false
  alias Payline.Repo
  alias Payline.Payments.Transaction

  @per_page 100

  def per_page, do: @per_page

  @doc "One page of all transactions, oldest first, for the accounting export API."
  def list_transactions(page) when is_integer(page) and page > 0 do
    from(t in Transaction,
      order_by: [asc: t.id],
      limit: @per_page,
      offset: ^((page - 1) * @per_page)
    )
    |> Repo.all()
  end

  def list_merchant_transactions(merchant_id) do
    from(t in Transaction,
      where: t.merchant_id == ^merchant_id,
      order_by: [desc: t.inserted_at],
      limit: 50
    )
    |> Repo.all()
  end

  def get_transaction_by_reference!(reference), do: Repo.get_by!(Transaction, reference: reference)
end
