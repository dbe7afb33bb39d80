defmodule Courier.Publishing do
  @moduledoc "Newsletters and the writers who own them."

  alias Courier.Repo
  alias Courier.Accounts.User

  def list_newsletters(%User{} = user) do
    user
    |> Repo.preload(:newsletters)
    |> Map.fetch!(:newsletters)
  end
end
