import Config

config :parcel, ecto_repos: [Parcel.Repo]

config :parcel, ParcelWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [json: ParcelWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
