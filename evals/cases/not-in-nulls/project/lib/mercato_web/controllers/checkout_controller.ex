defmodule MercatoWeb.CheckoutController do
  use MercatoWeb, :controller

  alias Mercato.Sales

  def create(conn, %{"order" => order_params}) do
    order_params =
      case conn.assigns[:current_customer] do
        nil -> order_params
        customer -> Map.put(order_params, "customer_id", customer.id)
      end

    case Sales.create_order(order_params) do
      {:ok, order} ->
        redirect(conn, to: ~p"/orders/#{order.id}/thanks")

      {:error, changeset} ->
        render(conn, :new, changeset: changeset)
    end
  end
end
