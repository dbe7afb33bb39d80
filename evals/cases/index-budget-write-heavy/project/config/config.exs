import Config

config :dispatch, ecto_repos: [Dispatch.Repo]

config :dispatch, DispatchWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [json: DispatchWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
