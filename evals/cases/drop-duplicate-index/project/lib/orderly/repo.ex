defmodule Orderly.Repo do
  use Ecto.Repo,
    otp_app: :orderly,
    adapter: Ecto.Adapters.Postgres
end
