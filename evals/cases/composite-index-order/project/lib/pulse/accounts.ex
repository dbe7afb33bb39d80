defmodule Pulse.Accounts do
  @moduledoc "Customer accounts."

  alias Pulse.Repo
  alias Pulse.Accounts.Account

  def get_account!(id), do: Repo.get!(Account, id)

  def create_account(attrs) do
    %Account{}
    |> Account.changeset(attrs)
    |> Repo.insert()
  end
end
