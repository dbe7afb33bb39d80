import Config

config :orderly, ecto_repos: [Orderly.Repo]

config :orderly, OrderlyWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: OrderlyWeb.ErrorHTML, json: OrderlyWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
