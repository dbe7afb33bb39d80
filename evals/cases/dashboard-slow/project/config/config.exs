import Config

config :helpdesk, ecto_repos: [Helpdesk.Repo]

config :helpdesk, HelpdeskWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: HelpdeskWeb.ErrorHTML], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
