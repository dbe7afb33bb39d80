"""sequence-overflow."""

from __future__ import annotations

from typing import Any

from tools.explain.ecto_fix import elixir_atom, elixir_string, migration_module
from tools.health.catalog import ecto_table, table_sql
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_count, qualified

TYPE_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


class SequenceOverflow(HealthCheck):
    """Fires when a sequence has used at least 90 % of its range (PgHero: last_value / max > 0.9;
    pg-index-health: remaining <= 10 %), as an error. The limit is the smallest of the sequence's
    own maximum, the type of the column it feeds (a bigint sequence behind an integer column
    fails at 2,147,483,647) and the type of any foreign-key column referencing that column
    (the child column overflows first). Cycling and descending sequences are skipped.

    A sequence's last_value is visible only to roles with SELECT or USAGE on it: for a pg_monitor
    role those sequences are listed as not read.
    """

    id = "sequence-overflow"
    title = "Sequence close to its maximum"
    what = "An id sequence that will soon exceed what it, or its column, can hold."
    why = ("When it does, every insert fails with 'nextval: reached maximum value' or 'integer out of "
           "range': an outage, and widening a big table's key takes hours.")
    threshold = "used >= 90 % (PgHero > 0.9; pg-index-health remaining <= 10 %)."
    fix = ("Widen the column (and the columns referencing it) to bigint; on a large table do it online "
           "(new column, backfill, swap) rather than with a locking ALTER COLUMN TYPE.")
    examples = [
        Example(
            fires=True, object="widgets_id_seq", severity="error",
            setup="""
                CREATE TABLE widgets (id serial PRIMARY KEY, name text);
                SELECT setval('widgets_id_seq', 2000000000);
            """,
            fix_has=("modify :id, :bigint", "ALTER SEQUENCE widgets_id_seq AS bigint"),
        ),
        Example(
            fires=True, object="parts_id_seq", note="a bigint sequence behind an integer foreign key",
            setup="""
                CREATE TABLE parts (id bigserial PRIMARY KEY);
                CREATE TABLE part_events (id bigserial PRIMARY KEY, part_id integer REFERENCES parts);
                SELECT setval('parts_id_seq', 2100000000);
            """,
            fix_has=("part_events",),
        ),
        Example(
            fires=False,
            setup="""
                CREATE TABLE widgets (id bigserial PRIMARY KEY);
                SELECT setval('widgets_id_seq', 2000000000);
            """,
        ),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        rows = db.rows("""
            SELECT s.schemaname AS schema, s.sequencename AS sequence, s.data_type::text AS seq_type,
                   s.max_value, s.increment_by, s.cycle, s.last_value,
                   has_sequence_privilege(c.oid, 'SELECT') OR has_sequence_privilege(c.oid, 'USAGE') AS readable,
                   tn.nspname AS table_schema, t.relname AS table, a.attname AS column,
                   format_type(a.atttypid, NULL) AS column_type,
                   ARRAY(SELECT json_build_object('table', ct.relname, 'schema', ctn.nspname,
                                                  'column', ca.attname, 'type', format_type(ca.atttypid, NULL))::text
                         FROM pg_constraint k
                         JOIN pg_class ct ON ct.oid = k.conrelid JOIN pg_namespace ctn ON ctn.oid = ct.relnamespace
                         JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = k.conkey[1]
                         WHERE k.contype = 'f' AND k.confrelid = t.oid AND cardinality(k.confkey) = 1
                           AND k.confkey[1] = a.attnum) AS referencing
            FROM pg_sequences s
            JOIN pg_namespace n ON n.nspname = s.schemaname
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
            LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
            LEFT JOIN pg_class t ON t.oid = d.refobjid
            LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            ORDER BY s.schemaname, s.sequencename""")
        hidden = [qualified(r["schema"], r["sequence"]) for r in rows if not r["readable"]]
        if hidden:
            db.cannot_read(f"last_value of {len(hidden)} sequence(s) ({', '.join(hidden[:5])}"
                           f"{', ...' if len(hidden) > 5 else ''})",
                           "a sequence's value is shown only to roles with SELECT or USAGE on it: "
                           "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO <role>")
        import json

        for r in rows:
            r["referencing"] = [json.loads(x) for x in r["referencing"] or []]
        return [r for r in rows if r["readable"]]

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        out = []
        for s in data:
            if s.get("cycle") or (s.get("increment_by") or 1) < 0 or s.get("last_value") is None:
                continue
            limits = [(int(s["max_value"]), f"the sequence's maximum ({s['seq_type']})")]
            if s.get("column") and s.get("column_type") in TYPE_MAX:
                limits.append((TYPE_MAX[s["column_type"]], f"{s['table']}.{s['column']} ({s['column_type']})"))
            for ref in s.get("referencing") or []:
                if ref["type"] in TYPE_MAX:
                    limits.append((TYPE_MAX[ref["type"]], f"{ref['table']}.{ref['column']} ({ref['type']}, "
                                                          f"references {s['table']}.{s['column']})"))
            limit, why = min(limits)
            used = int(s["last_value"]) / limit
            if used < env.thresholds.sequence_used_ratio:
                continue
            name = qualified(s["schema"], s["sequence"])
            message = (f"{name} is at {human_count(s['last_value'])}, {used:.0%} of {human_count(limit)}, the limit "
                       f"set by {why}: inserts fail when it runs out")
            out.append(self.finding("error", name, message, {
                "last_value": int(s["last_value"]), "limit": limit, "limited_by": why, "used": round(used, 4),
                "sequence_type": s["seq_type"], "column": f"{s.get('table')}.{s.get('column')}" if s.get("column") else None,
                "source": "PgHero (> 0.9), pg-index-health (remaining <= 10 %)"}, _fix(s)))
        return out


def _fix(s: dict[str, Any]) -> HealthFix:
    narrow = []
    if s.get("table") and s.get("column_type") != "bigint":
        narrow.append((s["table_schema"], s["table"], s["column"]))
    narrow += [(r["schema"], r["table"], r["column"]) for r in s.get("referencing") or [] if r["type"] != "bigint"]
    seq_sql = f"ALTER SEQUENCE {table_sql(s['schema'], s['sequence'])} AS bigint" if s["seq_type"] != "bigint" else None
    body = []
    for schema, table, column in narrow:
        body += [f"alter table({ecto_table(table)}" + (f", prefix: {elixir_string(schema)}" if schema != "public" else "")
                 + ") do", f"  modify {elixir_atom(column)}, :bigint", "end"]
    if seq_sql:
        body.append(f"execute {elixir_string(seq_sql)}")
    sql = [f"ALTER TABLE {table_sql(schema, table)} ALTER COLUMN {column} TYPE bigint;"
           for schema, table, column in narrow]
    if seq_sql:
        sql.append(seq_sql + ";")
    ecto = migration_module(f"widen_{s['sequence']}", body, concurrent=False,
                            comment="ALTER COLUMN TYPE rewrites each table and its indexes under an ACCESS EXCLUSIVE\n"
                                    "lock. On a large table, add a bigint column, backfill it in batches, and swap.")
    return HealthFix(ecto=ecto if body else None, sql="\n".join(sql) or None,
                     action=None if body else "the column is already bigint; raise the sequence's MAXVALUE")
