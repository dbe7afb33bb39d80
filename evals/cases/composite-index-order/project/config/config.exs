import Config

config :pulse, ecto_repos: [Pulse.Repo]

config :pulse, PulseWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [json: PulseWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
