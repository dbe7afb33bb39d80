import Config

config :payline, ecto_repos: [Payline.Repo]

config :payline, PaylineWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [json: PaylineWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
