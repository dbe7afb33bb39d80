defmodule Parcel.Repo do
  use Ecto.Repo,
    otp_app: :parcel,
    adapter: Ecto.Adapters.Postgres
end
