import Config

config :bazaar, ecto_repos: [Bazaar.Repo]

config :bazaar, BazaarWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: BazaarWeb.ErrorHTML, json: BazaarWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
