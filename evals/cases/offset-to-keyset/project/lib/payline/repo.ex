defmodule Payline.Repo do
  use Ecto.Repo,
    otp_app: :payline,
    adapter: Ecto.Adapters.Postgres
end
