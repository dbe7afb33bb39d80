defmodule Beacon.Analytics.PageView do
  use Ecto.Schema

  schema "page_views" do
    field :path, :string
    field :visitor_id, :integer
    field :referrer, :string
    field :user_agent, :string

    timestamps(updated_at: false)
  end
end
