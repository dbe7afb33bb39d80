import Config

config :shopfloor, ecto_repos: [Shopfloor.Repo]

config :shopfloor, Oban,
  repo: Shopfloor.Repo,
  queues: [default: 10, mailers: 5],
  plugins: [{Oban.Plugins.Cron, crontab: []}]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
