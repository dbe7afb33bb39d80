defmodule MercatoWeb.WinbackController do
  use MercatoWeb, :controller

  alias Mercato.Marketing

  def index(conn, params) do
    days = String.to_integer(params["days"] || "90")
    since = NaiveDateTime.add(NaiveDateTime.utc_now(), -days * 86_400) |> NaiveDateTime.truncate(:second)
    customers = Marketing.customers_without_orders(since)

    case params["format"] do
      "csv" ->
        csv = Enum.map_join(customers, "\n", &Enum.join([&1.id, &1.name, &1.email, &1.signed_up_at], ","))
        send_download(conn, {:binary, "id,name,email,signed_up_at\n" <> csv}, filename: "winback.csv")

      _ ->
        render(conn, :index, customers: customers, days: days, opted_in: Marketing.opted_in_count())
    end
  end
end
