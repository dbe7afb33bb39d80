"""Migration safety: find the Ecto migrations that will lock or rewrite production tables, say
which lock and for how long, and write the safe version.

- `actions`: what a migration does, from the Ecto DSL and from raw SQL (pglast), as one list;
- `schema`: the schema the migrations so far leave behind, for what one file cannot tell;
- `rules/`: the catalogue, one documented rule per module;
- `lint`: running the rules over files (history, suppression comments, config, --since);
- `fix`: the mechanical rewrites; `sarif`: SARIF 2.1.0; `locks`: lock tracing on a scratch
  database; `tool`: the `check_migrations` agent tool.
"""
