"""table-without-pk."""

from __future__ import annotations

from typing import Any

from tools.explain.ecto_fix import elixir_string, migration_module
from tools.health.catalog import USER_SCHEMA, ecto_table, table_sql
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_bytes, human_count, qualified

SMALL_TABLE_BYTES = 100 << 20


class TableWithoutPk(HealthCheck):
    """Fires on an ordinary or partitioned table (not a partition, not an extension's) with no
    primary key (pg-index-health tables without primary key).

    When a unique index over NOT NULL columns exists, the fix promotes it
    (`ADD CONSTRAINT ... PRIMARY KEY USING INDEX`: a brief lock, no scan). Otherwise it adds a
    bigserial `id`, which rewrites the table under an ACCESS EXCLUSIVE lock: fine for a small table,
    a maintenance window for a large one (the message says which).
    """

    id = "table-without-pk"
    title = "Table without a primary key"
    what = "A table with no primary key."
    why = ("Rows cannot be addressed one by one: Repo.update/delete need a primary key in the schema, "
           "logical replication cannot replicate UPDATE or DELETE, and duplicates creep in unnoticed.")
    threshold = "Any (pg-index-health tables without primary key)."
    fix = ("Promote a unique NOT NULL index to the primary key, or add a bigserial id column "
           "(`add :id, :bigserial, primary_key: true`).")
    examples = [
        Example(
            fires=True, object="page_views", severity="warning",
            setup="CREATE TABLE page_views (path text NOT NULL, viewed_at timestamp NOT NULL);",
            fix_has=("add :id, :bigserial, primary_key: true",),
        ),
        Example(
            fires=True, object="settings", note="a unique NOT NULL key is promoted",
            setup="""
                CREATE TABLE settings (key text NOT NULL, value text);
                CREATE UNIQUE INDEX settings_key_index ON settings (key);
            """,
            fix_has=("PRIMARY KEY USING INDEX settings_key_index",),
        ),
        Example(fires=False, setup="CREATE TABLE posts (id bigserial PRIMARY KEY, title text);"),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        # The candidate is the narrowest unique, non-partial, plain-column index whose columns are
        # all NOT NULL: the one PostgreSQL can promote to a primary key without a scan.
        return db.rows(f"""
            SELECT n.nspname AS schema, c.relname AS table, greatest(c.reltuples, 0) AS rows,
                   pg_table_size(c.oid) AS bytes, cand.name AS candidate, cand.columns AS candidate_columns
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN LATERAL (
                SELECT i.relname AS name,
                       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
                          FROM unnest(string_to_array(x.indkey::text, ' ')::int2[]) WITH ORDINALITY k(attnum, ord)
                          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS columns
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = c.oid AND x.indisunique AND x.indisvalid AND x.indpred IS NULL
                  AND x.indexprs IS NULL AND x.indnatts = x.indnkeyatts
                  AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(x.indkey::text, ' ')::int2[]) k(attnum)
                                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                                  WHERE NOT a.attnotnull)
                ORDER BY x.indnatts, i.relname LIMIT 1) cand ON TRUE
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMA}
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY n.nspname, c.relname""")

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        out = []
        for t in data:
            name = qualified(t["schema"], t["table"])
            evidence = {"rows": int(t["rows"]), "size": human_bytes(t["bytes"]), "candidate_index": t["candidate"]}
            message = f"{name} has no primary key ({human_count(t['rows'])} rows, {human_bytes(t['bytes'])})"
            if t["candidate"]:
                message += f"; its unique index {t['candidate']} on NOT NULL columns can become one"
                stmt = (f"ALTER TABLE {table_sql(t['schema'], t['table'])} ADD CONSTRAINT {t['table']}_pkey "
                        f"PRIMARY KEY USING INDEX {t['candidate']}")
                # Dropping the key drops the promoted index too: put the uniqueness back as it was.
                undo = (f"ALTER TABLE {table_sql(t['schema'], t['table'])} DROP CONSTRAINT {t['table']}_pkey, "
                        f"ADD CONSTRAINT {t['candidate']} UNIQUE ({t['candidate_columns']})")
                ecto = migration_module(f"add_{t['table']}_primary_key",
                                        [f"execute {elixir_string(stmt)}, {elixir_string(undo)}"], concurrent=False,
                                        comment="Promotes the existing unique index: a brief lock, no table scan.\n"
                                                "The index is renamed to the constraint's name.")
                fix = HealthFix(ecto=ecto, sql=stmt + ";")
            else:
                big = t["bytes"] >= SMALL_TABLE_BYTES
                comment = ("Rewrites the table under an ACCESS EXCLUSIVE lock: "
                           + ("at this size, schedule a maintenance window." if big else "quick at this size."))
                body = [f"alter table({ecto_table(t['table'])}"
                        + (f", prefix: {elixir_string(t['schema'])}" if t["schema"] != "public" else "") + ") do",
                        "  add :id, :bigserial, primary_key: true", "end"]
                ecto = migration_module(f"add_{t['table']}_id", body, concurrent=False, comment=comment)
                fix = HealthFix(ecto=ecto, sql=f"ALTER TABLE {table_sql(t['schema'], t['table'])} "
                                               "ADD COLUMN id bigserial PRIMARY KEY;")
                if big:
                    message += "; adding a key column rewrites the table, so plan it"
            out.append(self.finding("warning", name, message, evidence, fix))
        return out
