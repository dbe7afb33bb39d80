defmodule Parley.Repo do
  use Ecto.Repo,
    otp_app: :parley,
    adapter: Ecto.Adapters.Postgres
end
