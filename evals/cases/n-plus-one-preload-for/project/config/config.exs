import Config

config :tracker, ecto_repos: [Tracker.Repo]

config :tracker, TrackerWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: TrackerWeb.ErrorHTML], layout: false],
  pubsub_server: Tracker.PubSub,
  live_view: [signing_salt: "k3Jq9xWb"]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
