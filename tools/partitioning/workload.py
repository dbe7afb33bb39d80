"""What the database has been doing: statements from pg_stat_statements, row activity per table
from pg_stat_user_tables, and which tables and columns each statement touches.

Shared by the partitioning, materialized-view and caching advisors. Everything here only
reads, inside a READ ONLY transaction the caller rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from tools.errors import InputError

NOISE = ("begin", "commit", "rollback", "set ", "show ", "deallocate", "discard", "reset ", "explain", "savepoint",
         "release", "start transaction", "listen", "unlisten", "notify", "prepare", "execute", "create ", "alter ",
         "drop ", "analyze", "vacuum", "copy ", "select pg_", "with pg_")


@dataclass
class Statement:
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    tables: set[str] = field(default_factory=set)
    writes: str | None = None  # "insert", "update", "delete" for a write
    select: ast.SelectStmt | None = None


@dataclass
class TableActivity:
    name: str
    schema: str
    live_rows: int
    inserts: int
    updates: int
    hot_updates: int
    deletes: int
    seq_scans: int
    idx_scans: int
    size_bytes: int
    kind: str  # relkind: r, p


def stats_reset(conn: Any) -> tuple[Any, Any]:
    """(pg_stat_statements reset time, pg_stat_database reset time); None when unknown."""
    statements = None
    if conn.execute("SELECT to_regclass('pg_stat_statements_info')").fetchone()[0]:
        statements = conn.execute("SELECT stats_reset FROM pg_stat_statements_info").fetchone()[0]
    database = conn.execute("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return statements, database[0] if database else None


def read_statements(conn: Any, limit: int = 500) -> list[Statement]:
    """The current database's statements, most total time first. pg_stat_statements must exist."""
    import psycopg

    if conn.execute("SELECT to_regclass('pg_stat_statements')").fetchone()[0] is None:
        raise InputError("pg_stat_statements is not installed in this database: add it to shared_preload_libraries, "
                         "restart, then CREATE EXTENSION pg_stat_statements")
    cols = {r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass AND attnum > 0").fetchall()}
    total = "total_exec_time" if "total_exec_time" in cols else "total_time"
    try:
        rows = conn.execute(f"""
            SELECT query, sum(calls)::int8, sum({total})::float8, sum(rows)::int8
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            GROUP BY query ORDER BY 3 DESC LIMIT {int(limit)}""").fetchall()
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        raise InputError(f"pg_stat_statements cannot be read: {str(exc).splitlines()[0]}") from None
    out = []
    for query, calls, total_ms, nrows in rows:
        query = query or ""
        if query.lstrip().lower().startswith(NOISE) or "pg_stat" in query or "pg_catalog" in query:
            continue
        stmt = Statement(query, int(calls or 0), float(total_ms or 0.0),
                         float(total_ms or 0.0) / max(int(calls or 0), 1), int(nrows or 0))
        _describe(stmt)
        if not stmt.tables or all(t.startswith("pg_") for t in stmt.tables):
            continue  # catalog reads: this tool's own, or a monitoring tool's
        out.append(stmt)
    return out


def _describe(stmt: Statement) -> None:
    try:
        parsed = parse_sql(stmt.query)
    except ParseError:
        return
    if len(parsed) != 1:
        return
    node = parsed[0].stmt
    stmt.tables = {n.relname for n in _walk(node) if isinstance(n, ast.RangeVar)}
    if isinstance(node, ast.InsertStmt):
        stmt.writes = "insert"
    elif isinstance(node, ast.UpdateStmt):
        stmt.writes = "update"
    elif isinstance(node, ast.DeleteStmt):
        stmt.writes = "delete"
    elif isinstance(node, ast.SelectStmt):
        stmt.select = node


def _walk(node: Any):
    from tools.rewrites.sql import walk

    return walk(node)


def table_activity(conn: Any, names: set[str] | None = None) -> dict[str, TableActivity]:
    rows = conn.execute("""
        SELECT s.relname, s.schemaname, s.n_live_tup, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del,
               coalesce(s.seq_scan, 0), coalesce(s.idx_scan, 0), pg_total_relation_size(s.relid), c.relkind
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid""").fetchall()
    found = {}
    for r in rows:
        if names is not None and r[0] not in names:
            continue
        found[r[0]] = TableActivity(r[0], r[1], int(r[2] or 0), int(r[3] or 0), int(r[4] or 0), int(r[5] or 0),
                                    int(r[6] or 0), int(r[7]), int(r[8]), int(r[9] or 0), str(r[10]))
    return found


def fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
