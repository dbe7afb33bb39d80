import Config

# Production logs requests at :info; Ecto's query lines (:debug) never reach them.
config :logger, level: :info

config :parcel, Parcel.Repo, pool_size: 20
