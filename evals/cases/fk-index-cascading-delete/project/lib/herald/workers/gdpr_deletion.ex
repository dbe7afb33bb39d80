defmodule Herald.Workers.GdprDeletion do
  @moduledoc "Nightly: deletes the accounts whose owners asked for it, a batch at a time."

  use Oban.Worker, queue: :privacy, max_attempts: 3

  alias Herald.Accounts

  @batch 500

  @impl Oban.Worker
  def perform(%Oban.Job{}) do
    @batch
    |> Accounts.users_pending_deletion()
    |> Enum.each(&Accounts.delete_user/1)

    :ok
  end
end
