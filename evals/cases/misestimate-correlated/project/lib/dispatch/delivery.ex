defmodule Dispatch.Delivery do
  @moduledoc "Delivery areas (a town and zip code), the addresses in them and their parcels."

  import Ecto.Query, warn: false
  alias Dispatch.Repo
  alias Dispatch.Delivery.{Address, Parcel}

  def address_count(city, zip) do
    from(a in Address, where: a.city == ^city and a.zip == ^zip)
    |> Repo.aggregate(:count)
  end

  def recent_parcels_for_area(city, zip, limit \\ 50) do
    from(p in Parcel,
      join: a in assoc(p, :address),
      where: a.city == ^city and a.zip == ^zip,
      order_by: [desc: p.inserted_at],
      limit: ^limit,
      select: %{tracking_number: p.tracking_number, status: p.status, street: a.street, inserted_at: p.inserted_at}
    )
    |> Repo.all()
  end

  def get_parcel_by_tracking_number!(number) do
    Repo.get_by!(Parcel, tracking_number: number) |> Repo.preload(:address)
  end
end
