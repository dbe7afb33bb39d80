import Config

config :shop, ecto_repos: [Shop.Repo]

config :shop, ShopWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: ShopWeb.ErrorHTML], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
