defmodule Shopfloor.Repo do
  use Ecto.Repo,
    otp_app: :shopfloor,
    adapter: Ecto.Adapters.Postgres
end
