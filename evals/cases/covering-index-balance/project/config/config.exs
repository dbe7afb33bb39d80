import Config

config :ledger, ecto_repos: [Ledger.Repo]

config :ledger, LedgerWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [json: LedgerWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

config :phoenix, :json_library, Jason

import_config "#{config_env()}.exs"
