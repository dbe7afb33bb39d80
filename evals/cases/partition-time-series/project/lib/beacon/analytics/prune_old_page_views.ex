defmodule Beacon.Analytics.PruneOldPageViews do
  @moduledoc "Nightly retention: page views are kept for 90 days."
  use Oban.Worker, queue: :maintenance, max_attempts: 3

  @impl Oban.Worker
  def perform(_job) do
    cutoff = NaiveDateTime.add(NaiveDateTime.utc_now(), -90 * 86_400)
    {count, _} = Beacon.Analytics.prune_before(cutoff)
    {:ok, count}
  end
end
