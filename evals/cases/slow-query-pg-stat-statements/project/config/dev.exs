import Config

config :parcel, Parcel.Repo,
  username: "postgres",
  password: "postgres",
  hostname: "localhost",
  database: "parcel_dev",
  stacktrace: true,
  show_sensitive_data_on_connection_error: true,
  pool_size: 10

config :logger, :console, format: "[$level] $message\n"
