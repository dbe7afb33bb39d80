import Config

config :inkwell, ecto_repos: [Inkwell.Repo]

config :inkwell, InkwellWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: InkwellWeb.ErrorHTML], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
