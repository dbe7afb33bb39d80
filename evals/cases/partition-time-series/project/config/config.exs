import Config

config :beacon, ecto_repos: [Beacon.Repo]

config :beacon, Oban,
  repo: Beacon.Repo,
  queues: [default: 10, maintenance: 1],
  plugins: [
    {Oban.Plugins.Cron,
     crontab: [
       {"15 3 * * *", Beacon.Analytics.PruneOldPageViews}
     ]}
  ]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
