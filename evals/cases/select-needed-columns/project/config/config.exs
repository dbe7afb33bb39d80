import Config

config :newsroom, ecto_repos: [Newsroom.Repo]

config :newsroom, NewsroomWeb.Endpoint,
  url: [host: "localhost"],
  render_errors: [formats: [html: NewsroomWeb.ErrorHTML, json: NewsroomWeb.ErrorJSON], layout: false]

config :logger, :console,
  format: "$time $metadata[$level] $message\n",
  metadata: [:request_id]

import_config "#{config_env()}.exs"
