defmodule Ledger.Billing do
  @moduledoc "Invoices, credit notes and the balance they add up to."

  import Ecto.Query, warn: false
  alias Ledger.Repo
  alias Ledger.Billing.Invoice

  @doc "What the customer owes: every invoice and credit note they ever had."
  def balance(customer_id) do
    from(i in Invoice,
      where: i.customer_id == ^customer_id,
      select: coalesce(sum(i.amount_cents), 0)
    )
    |> Repo.one()
  end

  def list_invoices(customer_id, limit \\ 25) do
    from(i in Invoice,
      where: i.customer_id == ^customer_id,
      order_by: [desc: i.issued_on, desc: i.id],
      limit: ^limit
    )
    |> Repo.all()
  end

  def create_invoice(attrs) do
    %Invoice{}
    |> Invoice.changeset(attrs)
    |> Repo.insert()
  end
end
