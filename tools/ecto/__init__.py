"""Reading Ecto projects: Elixir source via tree-sitter, migrations, and the SQL they run."""
