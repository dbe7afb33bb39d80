defmodule Dispatch.Repo do
  use Ecto.Repo,
    otp_app: :dispatch,
    adapter: Ecto.Adapters.Postgres
end
