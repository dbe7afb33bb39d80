"""json-column."""

from __future__ import annotations

from typing import Any

from tools.explain.ecto_fix import elixir_atom, elixir_string, migration_module
from tools.health.catalog import USER_SCHEMA, ecto_table, table_sql
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_bytes, qualified


class JsonColumn(HealthCheck):
    """Fires on every column of type json in a user table (pg-index-health columns with json
    type), as info. Ecto's `:map` is jsonb on PostgreSQL, so a json column was asked for
    explicitly (`add :payload, :json`) or predates the app.
    """

    id = "json-column"
    title = "json column where jsonb serves better"
    what = "A column of type json (text, reparsed on every access) rather than jsonb."
    why = ("json has no equality operator (DISTINCT, GROUP BY and UNION on it fail), cannot be indexed "
           "with GIN, and every ->> reparses the whole document; jsonb is parsed once on write.")
    threshold = "Any json column (pg-index-health columns with json type)."
    fix = ("`modify :col, :map, from: :json` (jsonb); it rewrites the table under an ACCESS EXCLUSIVE lock, "
           "and jsonb drops duplicate keys, key order and whitespace.")
    examples = [
        Example(fires=True, object="webhooks.payload", severity="info",
                setup="CREATE TABLE webhooks (id bigserial PRIMARY KEY, payload json NOT NULL);",
                fix_has=("modify :payload, :map, from: :json", "TYPE jsonb")),
        Example(fires=False, setup="CREATE TABLE webhooks (id bigserial PRIMARY KEY, payload jsonb NOT NULL);"),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        return db.rows(f"""
            SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, greatest(c.reltuples, 0) AS rows,
                   pg_table_size(c.oid) AS bytes
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.atttypid = 'json'::regtype AND a.attnum > 0 AND NOT a.attisdropped
              AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMA}
            ORDER BY n.nspname, c.relname, a.attnum""")

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        out = []
        for col in data:
            name = qualified(col["schema"], col["table"])
            target = table_sql(col["schema"], col["table"])
            prefix = f", prefix: {elixir_string(col['schema'])}" if col["schema"] != "public" else ""
            ecto = migration_module(f"{col['table']}_{col['column']}_to_jsonb", [
                f"alter table({ecto_table(col['table'])}{prefix}) do",
                f"  modify {elixir_atom(col['column'])}, :map, from: :json", "end"], concurrent=False,
                comment=f"Rewrites {col['table']} ({human_bytes(col['bytes'])}) under an ACCESS EXCLUSIVE lock.\n"
                        "Change the schema field to :map; jsonb keeps no duplicate keys, key order or whitespace.")
            out.append(self.finding("info", f"{name}.{col['column']}",
                                    f"{name}.{col['column']} is json: it cannot be compared, grouped or GIN-indexed, "
                                    "and is reparsed on every access; jsonb (Ecto's :map) is the usual choice",
                                    {"rows": int(col["rows"]), "table_size": human_bytes(col["bytes"]),
                                     "source": "pg-index-health columns with json type"},
                                    HealthFix(ecto=ecto, sql=f"ALTER TABLE {target} ALTER COLUMN {col['column']} "
                                                             "TYPE jsonb;")))
        return out



