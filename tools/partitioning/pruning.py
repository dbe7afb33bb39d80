"""For a query on a partitioned table: how many partitions its plan reads, how many it could
have skipped, and why it did not.

PostgreSQL prunes partitions from conditions on the bare partition key compared with values it
can evaluate: constants at plan time, params and stable expressions such as now() at executor
start ("Subplans Removed" in the plan). It cannot prune when the key sits inside a function or
a cast (`date(inserted_at) = $1`), when nothing in WHERE mentions the key, or when the condition
is OR-ed with one on another column.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from pydantic import BaseModel

from tools.errors import InputError
from tools.explain.plan import Plan, parse_plan
from tools.partitioning.predicates import column_uses
from tools.rewrites.sql import parse_select, relnames


class PruningInsight(BaseModel):
    table: str
    partition_key: str  # "RANGE (inserted_at)"
    partitions: int
    scanned: int
    removed_at_start: int = 0  # "Subplans Removed": pruned when the executor started
    query: str
    analyzed: bool
    verdict: str  # "pruned", "not pruned", "no partitions skipped needed"
    why: str
    fix: str | None = None


def partitioned_tables(conn: Any, names: set[str]) -> dict[str, tuple[str, list[str], list[str]]]:
    """name -> (partition key definition, key columns, partition names) for partitioned tables."""
    found = {}
    for name in names:
        row = conn.execute("SELECT c.oid, pg_get_partkeydef(c.oid) FROM pg_class c WHERE c.oid = to_regclass(%s) "
                           "AND c.relkind = 'p'", (f'"{name}"',)).fetchone()
        if row is None:
            continue
        oid, keydef = row
        cols = [r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_partitioned_table p, unnest(p.partattrs) k(attnum) "
            "JOIN pg_attribute a ON a.attrelid = %s AND a.attnum = k.attnum WHERE p.partrelid = %s",
            (oid, oid)).fetchall()]
        parts = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s",
            (oid,)).fetchall()]
        found[name] = (keydef, cols, parts)
    return found


def check_pruning(conn: Any, sql: str, values: list | None, param_count: int) -> list[PruningInsight]:
    select = parse_select(sql)
    tables = partitioned_tables(conn, relnames(select))
    if not tables:
        return []
    plan, analyzed = _plan(conn, sql, values, param_count)
    out = []
    for table, (keydef, keys, parts) in tables.items():
        scanned = {n.relation for n in plan.nodes if n.relation in parts and not n.never_executed}
        removed = sum(int(n.get("Subplans Removed") or 0) for n in plan.nodes)
        uses = [u for k in keys for u in column_uses(select, table, k)]
        insight = PruningInsight(table=table, partition_key=keydef, partitions=len(parts), scanned=len(scanned),
                                 removed_at_start=removed, query=sql, analyzed=analyzed, verdict="pruned", why="")
        key = ", ".join(keys)
        if len(scanned) <= 1 or len(scanned) < len(parts):
            insight.why = (f"reads {len(scanned)} of {len(parts)} partitions" +
                           (f" ({removed} removed when the executor started)" if removed else "") +
                           f": the condition on {key} lets PostgreSQL skip the rest")
            out.append(insight)
            continue
        insight.verdict = "not pruned"
        wrapped = [u for u in uses if u.kind == "wrapped"]
        direct = [u for u in uses if u.kind in ("range", "equality")]
        if wrapped and not direct:
            insight.why = (f"reads all {len(parts)} partitions: `{wrapped[0].text}` hides {key} inside a function or "
                           "cast, and pruning only sees conditions on the bare partition key")
            insight.fix = (f"compare the bare column with a range: `{key} >= $1 AND {key} < $1 + interval '1 day'` "
                           f"(Ecto: `where: e.{keys[0]} >= ^day_start and e.{keys[0]} < ^next_day_start`)")
        elif not uses:
            insight.why = (f"reads all {len(parts)} partitions: nothing in the query filters on the partition key "
                           f"{key}, so every partition may hold matching rows")
            insight.fix = (f"add the time window the page shows as a condition on {key}, or index the column "
                           "it filters on")
        elif direct and not analyzed and param_count:
            insight.verdict = "unknown"
            insight.why = (f"the generic plan lists all {len(parts)} partitions; with params PostgreSQL prunes when "
                           "the executor starts, which only EXPLAIN ANALYZE with the params shows")
            insight.fix = "pass the params to see the partitions really read"
        else:
            insight.why = (f"reads all {len(parts)} partitions although it filters on {key} "
                           f"(`{direct[0].text if direct else uses[0].text}`): the condition is OR-ed with another, "
                           "or its range covers every partition")
            insight.fix = "narrow the range, or split an OR into a UNION of queries that each filter on the key"
        out.append(insight)
    return out


def _plan(conn: Any, sql: str, values: list | None, param_count: int) -> tuple[Plan, bool]:
    from tools.explain.classify import classify
    from tools.explain.runner import _generic_plan

    conn.execute("SAVEPOINT pruning")
    try:
        if param_count and values is None:
            raw = _generic_plan(conn, classify(sql))[0]
            analyzed = False
        else:
            with psycopg.RawCursor(conn) as cur:
                cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values or None)
                raw = cur.fetchone()[0]
            analyzed = True
        conn.execute("RELEASE SAVEPOINT pruning")
    except psycopg.Error as exc:
        conn.execute("ROLLBACK TO SAVEPOINT pruning")
        from tools.db.connect import describe_error

        raise InputError(f"the database refused the query: {describe_error(exc)}") from None
    return parse_plan(raw if isinstance(raw, str) else json.dumps(raw)), analyzed
