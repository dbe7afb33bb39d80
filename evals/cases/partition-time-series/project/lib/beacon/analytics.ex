defmodule Beacon.Analytics do
  @moduledoc "Page views: recorded on every request, summarised for the dashboard, pruned after 90 days."

  import Ecto.Query, warn: false
  alias Beacon.Repo
  alias Beacon.Analytics.PageView

  def record_view!(attrs) do
    %PageView{}
    |> Ecto.Changeset.cast(attrs, [:path, :visitor_id, :referrer, :user_agent])
    |> Repo.insert!()
  end

  @doc "Views per path over the last `days` days, busiest first."
  def top_paths(days \\ 7, limit \\ 20) do
    since = NaiveDateTime.add(NaiveDateTime.utc_now(), -days * 86_400)

    from(v in PageView,
      where: v.inserted_at >= ^since,
      group_by: v.path,
      order_by: [desc: count(v.id)],
      limit: ^limit,
      select: {v.path, count(v.id)}
    )
    |> Repo.all()
  end

  @doc "Unique visitors per day between two dates."
  def daily_visitors(from_date, to_date) do
    from(v in PageView,
      where: v.inserted_at >= ^from_date and v.inserted_at < ^to_date,
      group_by: fragment("date_trunc('day', ?)", v.inserted_at),
      select: {fragment("date_trunc('day', ?)", v.inserted_at), count(v.visitor_id, :distinct)}
    )
    |> Repo.all()
  end

  def prune_before(cutoff) do
    from(v in PageView, where: v.inserted_at < ^cutoff) |> Repo.delete_all()
  end
end
