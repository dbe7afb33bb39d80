import Config

config :ledger, ecto_repos: [Ledger.Repo]

config :ledger, LedgerWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: LedgerWeb.ErrorHTML, json: LedgerWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
