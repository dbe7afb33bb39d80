import Config

config :mercato, ecto_repos: [Mercato.Repo]

config :mercato, MercatoWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: MercatoWeb.ErrorHTML, json: MercatoWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
