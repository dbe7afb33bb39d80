defmodule Newsroom.Repo do
  use Ecto.Repo,
    otp_app: :newsroom,
    adapter: Ecto.Adapters.Postgres
end
