import Config

config :courier, ecto_repos: [Courier.Repo]

config :courier, CourierWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: CourierWeb.ErrorHTML], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
