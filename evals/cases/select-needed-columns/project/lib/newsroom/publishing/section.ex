defmodule Newsroom.Publishing.Section do
  use Ecto.Schema

  schema "sections" do
    field :name, :string
    field :slug, :string
    has_many :articles, Newsroom.Publishing.Article

    timestamps()
  end
end
