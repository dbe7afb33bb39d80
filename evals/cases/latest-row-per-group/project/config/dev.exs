import Config

config :parley, Parley.Repo,
  username: "postgres",
  password: "postgres",
  hostname: "localhost",
  database: "parley_dev",
  stacktrace: true,
  show_sensitive_data_on_connection_error: true,
  pool_size: 10

config :logger, :console, format: "[$level] $message\n"
