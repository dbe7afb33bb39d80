import Config

config :herald, ecto_repos: [Herald.Repo]

config :herald, HeraldWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: HeraldWeb.ErrorHTML, json: HeraldWeb.ErrorJSON], layout: false]

config :herald, Oban,
  repo: Herald.Repo,
  queues: [default: 10, privacy: 1],
  plugins: [{Oban.Plugins.Cron, crontab: [{"15 2 * * *", Herald.Workers.GdprDeletion}]}]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
