import Config

config :dispatch, ecto_repos: [Dispatch.Repo]

config :dispatch, DispatchWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: DispatchWeb.ErrorHTML, json: DispatchWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
