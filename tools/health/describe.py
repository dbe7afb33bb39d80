"""`describe_table`: a table's shape and data distribution, the way a specialist looks before
proposing an index: columns, indexes with their usage and size, sizes, and per column what the
planner knows from pg_stats (distinct values, null fraction, most common values, correlation).

It reads the catalog and statistics only (never the rows), in a READ ONLY transaction that is
rolled back, with timeouts. pg_stats shows a column only to roles that may SELECT it: for a
pg_monitor role the distribution part says so instead of looking empty.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from tools.db.connect import connect
from tools.errors import InputError
from tools.health.catalog import indexes
from tools.health.model import human_bytes, human_count
from tools.health.runner import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS, HealthDB
from tools.health.model import Env

MCV_SHOWN = 5


@dataclass
class TableDescription:
    table: str
    schema: str
    kind: str
    stats: dict[str, Any]
    columns: list[dict[str, Any]]
    indexes: list[dict[str, Any]]
    foreign_keys: list[dict[str, Any]]
    referenced_by: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"table": self.table, "schema": self.schema, "kind": self.kind, "stats": self.stats,
                "columns": self.columns, "indexes": self.indexes, "foreign_keys": self.foreign_keys,
                "referenced_by": self.referenced_by, "notes": self.notes}

    def text(self) -> str:
        s = self.stats
        name = self.table if self.schema == "public" else f"{self.schema}.{self.table}"
        lines = [f"Table {name}: about {human_count(s['rows'])} rows, {human_bytes(s['total_bytes'])} in all "
                 f"(table {human_bytes(s['table_bytes'])}, indexes {human_bytes(s['index_bytes'])}, "
                 f"TOAST {human_bytes(s['toast_bytes'])})"]
        if s.get("seq_scan") is not None:
            lines.append(f"  {human_count(s['seq_scan'])} sequential scans (reading {human_count(s['seq_tup_read'])} rows), "
                         f"{human_count(s['idx_scan'] or 0)} index scans; {human_count(s['n_dead_tup'])} dead rows")
            lines.append(f"  last analyze: {s['last_analyze'] or 'never'}; last vacuum: {s['last_vacuum'] or 'never'}"
                         + (f"; reloptions: {', '.join(s['reloptions'])}" if s.get("reloptions") else ""))
        lines.append("")
        lines.append("Columns (type, nullable, default; then pg_stats: distinct values, null fraction, correlation, "
                     "most common values):")
        for c in self.columns:
            head = f"  {c['name']} {c['type']}" + ("" if c["nullable"] else " NOT NULL") + \
                (f" DEFAULT {c['default']}" if c.get("default") else "")
            lines.append(head)
            st = c.get("stats")
            if not st:
                continue
            parts = [f"distinct {_distinct(st)}", f"nulls {st['null_frac']:.1%}"]
            if st.get("correlation") is not None:
                parts.append(f"correlation {st['correlation']:.2f}")
            parts.append(f"avg width {st['avg_width']} B")
            lines.append("      " + ", ".join(parts))
            if st.get("most_common"):
                shown = ", ".join(f"{_short(v)} {f:.1%}" for v, f in st["most_common"][:MCV_SHOWN])
                more = len(st["most_common"]) - MCV_SHOWN
                lines.append(f"      most common: {shown}" + (f" (+{more} more)" if more > 0 else ""))
        lines.append("")
        lines.append("Indexes (size, scans since the statistics reset):")
        if not self.indexes:
            lines.append("  none")
        for i in self.indexes:
            flags = [f for f, on in (("INVALID", not i["valid"]), (i.get("constraint") or "", bool(i.get("constraint"))))
                     if on]
            lines.append(f"  {i['name']}: {i['definition'].split(' USING ', 1)[-1]}  {human_bytes(i['bytes'])}, "
                         f"{human_count(i['scans'])} scans" + (f" [{', '.join(flags)}]" if flags else ""))
        if self.foreign_keys:
            lines.append("")
            lines.append("Foreign keys:")
            for fk in self.foreign_keys:
                missing = "" if fk["indexed"] else "  (no index on these columns)"
                lines.append(f"  {fk['name']}: {fk['definition']}{missing}")
        if self.referenced_by:
            lines.append("")
            lines.append("Referenced by:")
            for fk in self.referenced_by:
                lines.append(f"  {fk['table']}.{fk['columns']} ({fk['name']}, ON DELETE {fk['on_delete']})"
                             + ("" if fk["indexed"] else "  (no index: deletes here scan that table)"))
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines)


def _distinct(st: dict[str, Any]) -> str:
    nd = st.get("n_distinct")
    if nd is None:
        return "?"
    if nd < 0:
        return "unique" if nd == -1 else f"about {human_count(st.get('distinct_estimate') or 0)} ({-nd:.0%} of rows)"
    return human_count(nd)


def _short(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def describe_table(database_url: str | None, table: str, *, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
                   lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> TableDescription:
    if not isinstance(table, str) or not table.strip():
        raise InputError("describe_table needs `table`: a table name such as orders or billing.invoices")
    with connect(database_url, application_name="ecto-optimizer describe_table") as conn:
        conn.read_only = True
        try:
            db = HealthDB(conn, Env())
            db.rows("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                    (f"{statement_timeout_ms}ms", f"{lock_timeout_ms}ms"))
            return _describe(db, table.strip())
        finally:
            conn.rollback()


def _resolve(db: HealthDB, table: str) -> dict[str, Any]:
    try:
        with db.conn.transaction():
            row = db.one("SELECT to_regclass(%s)::oid AS oid", (table,))
    except Exception:  # noqa: BLE001 - a malformed name is just not found
        row = None
    if row and row["oid"]:
        info = db.one("""SELECT c.oid, c.relname, n.nspname, c.relkind FROM pg_class c
                         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s""", (row["oid"],))
        if info and info["relkind"] in ("r", "p", "m"):
            return info
        raise InputError(f"{table} is not a table (relkind {info['relkind'] if info else '?'})")
    names = [r["name"] for r in db.rows("""
        SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%%'""", ())]
    close = difflib.get_close_matches(table.lower(), names, n=3, cutoff=0.5)
    if close:
        hint = f" (did you mean {', '.join(close)}?)"
    else:
        hint = f" (tables: {', '.join(sorted(names)[:10])})" if names else ""
    raise InputError(f"no table named {table!r} in this database{hint}")


def _describe(db: HealthDB, table: str) -> TableDescription:
    info = _resolve(db, table)
    oid = info["oid"]
    stats = db.one("""
        SELECT greatest(c.reltuples, 0) AS rows, c.reltuples < 0 AS never_counted, c.reloptions,
               pg_total_relation_size(c.oid) AS total_bytes, pg_relation_size(c.oid) AS table_bytes,
               pg_indexes_size(c.oid) AS index_bytes,
               coalesce(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast_bytes,
               st.seq_scan, st.seq_tup_read, st.idx_scan, st.n_live_tup, st.n_dead_tup, st.n_mod_since_analyze,
               greatest(st.last_analyze, st.last_autoanalyze) AS last_analyze,
               greatest(st.last_vacuum, st.last_autovacuum) AS last_vacuum,
               has_table_privilege(c.oid, 'SELECT') AS readable
        FROM pg_class c LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid WHERE c.oid = %s""", (oid,)) or {}
    columns = db.rows("""
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
               pg_get_expr(d.adbin, d.adrelid) AS default
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (oid,))
    pg_stats = {r["attname"]: r for r in db.rows("""
        SELECT attname, null_frac, n_distinct, avg_width, correlation,
               most_common_vals::text::text[] AS mcv, most_common_freqs AS mcf,
               cardinality(histogram_bounds::text::text[]) AS histogram_buckets
        FROM pg_stats WHERE schemaname = %s AND tablename = %s AND NOT inherited""",
        (info["nspname"], info["relname"]))}
    rows = float(stats.get("rows") or 0)
    for c in columns:
        st = pg_stats.get(c["name"])
        if st is None:
            c["stats"] = None
            continue
        nd = st["n_distinct"]
        c["stats"] = {
            "null_frac": st["null_frac"], "n_distinct": nd,
            "distinct_estimate": round(-nd * rows) if nd is not None and nd < 0 else nd,
            "avg_width": st["avg_width"], "correlation": st["correlation"],
            "most_common": list(zip(st["mcv"] or [], st["mcf"] or [])),
            "histogram_buckets": st["histogram_buckets"],
        }
    notes = []
    if columns and not pg_stats:
        if not stats.get("readable"):
            notes.append("pg_stats is hidden: this role may not SELECT this table, and PostgreSQL shows column "
                         "statistics only to roles that may (GRANT SELECT, or run as the owner)")
        elif stats.get("last_analyze") is None:
            notes.append("no statistics yet: the table has never been analyzed (run ANALYZE "
                         f"{info['relname']}); the planner is guessing every estimate")
    elif stats.get("n_mod_since_analyze") and rows and stats["n_mod_since_analyze"] > 0.1 * rows + 50:
        notes.append(f"{human_count(stats['n_mod_since_analyze'])} rows changed since the last analyze: "
                     "these statistics may be out of date")
    idx = [{"name": i.name, "definition": i.definition, "bytes": i.bytes, "size": human_bytes(i.bytes),
            "scans": i.scans, "valid": i.valid, "unique": i.unique, "primary": i.primary,
            "constraint": {"p": "PRIMARY KEY", "u": "UNIQUE", "x": "EXCLUDE"}.get(i.constraint_type or "")}
           for i in indexes(db, "x.indrelid = %(oid)s", {"oid": oid})]
    keys = db.rows("""SELECT x.indrelid, string_to_array(x.indkey::text, ' ')::int2[] AS keys FROM pg_index x
                      WHERE x.indisvalid AND x.indpred IS NULL""")
    fks = db.rows("""
        SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition, c.conrelid, c.conkey::int2[] AS conkey,
               c.confdeltype, t.relname AS table,
               (SELECT string_agg(a.attname, ', ' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
               c.conrelid = %(oid)s AS outgoing
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.contype = 'f' AND (c.conrelid = %(oid)s OR c.confrelid = %(oid)s)
        ORDER BY c.conname""", {"oid": oid})
    for fk in fks:
        n = len(fk["conkey"])
        fk["indexed"] = any(k["indrelid"] == fk["conrelid"] and sorted(k["keys"][:n]) == sorted(fk["conkey"])
                            for k in keys)
        fk["on_delete"] = ON_DELETE.get(fk["confdeltype"], "NO ACTION")
    clean = [{k: v for k, v in fk.items() if k not in ("conrelid", "conkey", "confdeltype", "outgoing")} for fk in fks]
    stats_out = {k: (str(v) if k in ("last_analyze", "last_vacuum") and v is not None else v)
                 for k, v in stats.items() if k != "readable"}
    return TableDescription(
        table=info["relname"], schema=info["nspname"], kind={"r": "table", "p": "partitioned table",
                                                               "m": "materialized view"}[info["relkind"]],
        stats=stats_out, columns=columns, indexes=idx,
        foreign_keys=[c for c, fk in zip(clean, fks) if fk["outgoing"]],
        referenced_by=[c for c, fk in zip(clean, fks) if not fk["outgoing"]], notes=notes)
