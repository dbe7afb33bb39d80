"""pg_stat_statements: the queries that cost the database most, without a single log line.

Column names changed over the years (shared/reference/db-health.md §6): PostgreSQL 12's
`total_time` became `total_exec_time` plus `total_plan_time` in 13, `blk_read_time` became
`shared_blk_read_time` in 17, `toplevel` arrived in 14. We ask the view which columns it has
rather than trusting the server version, because the extension can lag behind an upgrade.
Total time is exec plus plan time, as PgHero and Dexter count it.

The view only accumulates, and we never reset it (it is the user's). So each read is kept as a
snapshot in a SQLite file (.ecto-optimizer/stats.sqlite3 by default), and the next read reports
per query what happened since the previous one: that is the before/after of a fix, across
separate runs. A query whose counters went down was reset or evicted in between; its delta is
then everything since.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tools.errors import InputError

ORDERS = {"total": "total_ms", "mean": "mean_ms", "calls": "calls", "io": "io_ms"}
CAPTURE_LIMIT = 5_000  # statements kept per snapshot, by total time
KEEP_SNAPSHOTS = 50  # per database
STATS_FILE_ENV = "ECTO_OPTIMIZER_STATS_FILE"
DEFAULT_STATS_FILE = Path(".ecto-optimizer") / "stats.sqlite3"
# Statements that are not the app's queries: transaction control, our own reads, EXPLAINs.
MARK = "/* ecto-optimizer */ "  # on our own reads, so that they never rank among the app's queries
NOISE = ("begin", "commit", "rollback", "set ", "show ", "deallocate", "discard", "reset ", "explain",
         "savepoint", "release", "start transaction", "listen", "unlisten", "notify", "create ", "alter ", "drop ",
         "grant ", "revoke ", "comment on", "vacuum", "analyze", "checkpoint", "reindex", "cluster", "prepare ")


class Delta(BaseModel):
    calls: int
    total_ms: float
    mean_ms: float | None
    previous_mean_ms: float | None  # the mean up to the previous snapshot: "before"
    reset: bool = False  # counters went down: the statement was reset or evicted since


class Statement(BaseModel):
    queryid: str
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    plan_ms: float = 0.0
    rows: int = 0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    hit_ratio: float | None = None
    io_ms: float = 0.0
    temp_blks: int = 0
    share: float = 0.0  # of the total time of all statements in this database
    delta: Delta | None = None
    # Values for its $n taken from a row of the tables it filters: pg_stat_statements keeps no
    # params, and a plan run with real values (EXPLAIN ANALYZE) says far more than a generic one.
    example_params: list[Any] | None = None


class SnapshotRef(BaseModel):
    id: int
    taken_at: str


class TopReport(BaseModel):
    database: str
    server_version: str
    extension_version: str | None
    order_by: str
    total_ms: float
    stats_reset: str | None = None
    snapshot: SnapshotRef | None = None
    previous: SnapshotRef | None = None
    queries: list[Statement] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


# ---- reading the view ---------------------------------------------------------------------------

def _columns(conn: Any, schema: str) -> set[str]:
    rows = conn.execute(
        MARK + "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
        (f'"{schema}".pg_stat_statements',)).fetchall()
    return {r[0] for r in rows}


def _expressions(cols: set[str]) -> dict[str, str]:
    """SQL for each normalised figure, from whichever columns this version has."""
    def has(*names: str) -> bool:
        return all(n in cols for n in names)

    if has("total_exec_time"):
        total = "s.total_exec_time + " + ("s.total_plan_time" if has("total_plan_time") else "0")
        plan = "s.total_plan_time" if has("total_plan_time") else "0"
    elif has("total_time"):
        total, plan = "s.total_time", "0"
    else:
        raise InputError("pg_stat_statements has no total time column: an unknown extension version")
    if has("shared_blk_read_time", "shared_blk_write_time"):
        io = "s.shared_blk_read_time + s.shared_blk_write_time"
    elif has("blk_read_time", "blk_write_time"):
        io = "s.blk_read_time + s.blk_write_time"
    else:
        io = "0"
    if has("temp_blk_read_time", "temp_blk_write_time"):
        io = f"{io} + s.temp_blk_read_time + s.temp_blk_write_time"
    return {
        "total": total, "plan": plan, "io": io,
        "rows": "s.rows" if has("rows") else "0",
        "hit": "s.shared_blks_hit" if has("shared_blks_hit") else "0",
        "read": "s.shared_blks_read" if has("shared_blks_read") else "0",
        "temp": "s.temp_blks_read + s.temp_blks_written" if has("temp_blks_read", "temp_blks_written") else "0",
        "toplevel": "s.toplevel" if has("toplevel") else "true",
        "queryid": "s.queryid::text" if has("queryid") else "md5(s.query)",
    }


def read_statements(url: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(facts about the server, one dict per statement of the current database)."""
    import psycopg

    from tools.db.connect import connect, describe_error, server_version, target

    with connect(url) as conn:
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SET LOCAL statement_timeout = '15s'")
            ext = conn.execute(MARK + "SELECT e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n "
                               "ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'").fetchone()
            database = conn.execute(MARK + "SELECT current_database()").fetchone()[0]
            if ext is None:
                raise InputError(f"pg_stat_statements is not installed in {database}: add it to "
                                 "shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements")
            version, schema = ext
            exprs = _expressions(_columns(conn, schema))
            reset = None
            if conn.execute(MARK + "SELECT to_regclass(%s)", (f'"{schema}".pg_stat_statements_info',)).fetchone()[0]:
                row = conn.execute(MARK + f'SELECT stats_reset::text FROM "{schema}".pg_stat_statements_info').fetchone()
                reset = row[0] if row else None
            rows = conn.execute(MARK + f"""
                SELECT {exprs['queryid']} AS queryid, s.userid::text, ({exprs['toplevel']}) AS toplevel, s.query,
                       s.calls, ({exprs['total']})::float8, ({exprs['plan']})::float8, ({exprs['rows']})::int8,
                       ({exprs['hit']})::int8, ({exprs['read']})::int8, ({exprs['io']})::float8,
                       ({exprs['temp']})::int8
                FROM "{schema}".pg_stat_statements s
                WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY 6 DESC
                LIMIT {CAPTURE_LIMIT}""").fetchall()
            facts = {"database": target(_url_of(conn)), "server_version": server_version(conn),
                     "extension_version": version, "stats_reset": reset, "name": database}
        except psycopg.errors.ObjectNotInPrerequisiteState as exc:  # not in shared_preload_libraries
            raise InputError(f"pg_stat_statements cannot be read: {describe_error(exc)}") from None
        except psycopg.Error as exc:
            raise InputError(f"reading pg_stat_statements failed: {describe_error(exc)}") from None
        finally:
            conn.rollback()
    statements = []
    for queryid, userid, toplevel, query, calls, total, plan, rows_, hit, read, io, temp in rows:
        statements.append({"queryid": str(queryid), "userid": str(userid), "toplevel": bool(toplevel),
                           "query": query or "", "calls": int(calls or 0), "total_ms": float(total or 0.0),
                           "plan_ms": float(plan or 0.0), "rows": int(rows_ or 0), "shared_blks_hit": int(hit or 0),
                           "shared_blks_read": int(read or 0), "io_ms": float(io or 0.0), "temp_blks": int(temp or 0)})
    return facts, statements


def _url_of(conn: Any) -> str:
    info = conn.info
    return f"postgresql://{info.host}:{info.port}/{info.dbname}"


def is_noise(query: str) -> bool:
    head = query.lstrip().lower()
    return (head.startswith(NOISE) or "pg_stat_statements" in head or head.startswith("<insufficient")
            or "ecto-optimizer" in head[:40])


# ---- snapshots -------------------------------------------------------------------------------------

def stats_file(project_root: Path | None = None) -> Path:
    env = os.environ.get(STATS_FILE_ENV)
    if env:
        return Path(env)
    return (project_root or Path.cwd()) / DEFAULT_STATS_FILE


def _open_store(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.name == ".ecto-optimizer" and not (path.parent / ".gitignore").exists():
        (path.parent / ".gitignore").write_text("*\n")
    db = sqlite3.connect(str(path))
    db.executescript("""
        CREATE TABLE IF NOT EXISTS snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, taken_at TEXT NOT NULL,
            server_version TEXT, extension_version TEXT, stats_reset TEXT);
        CREATE TABLE IF NOT EXISTS statements (
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
            key TEXT NOT NULL, queryid TEXT, query TEXT, calls INTEGER, total_ms REAL, plan_ms REAL,
            rows INTEGER, shared_blks_hit INTEGER, shared_blks_read INTEGER, io_ms REAL, temp_blks INTEGER,
            PRIMARY KEY (snapshot_id, key));
        CREATE INDEX IF NOT EXISTS snapshots_target ON snapshots (target, id);
    """)
    return db


def _key(s: dict[str, Any]) -> str:
    return f"{s['queryid']}/{s['userid']}/{int(s['toplevel'])}"


def save_snapshot(path: Path, facts: dict[str, Any], statements: list[dict[str, Any]]
                  ) -> tuple[SnapshotRef, SnapshotRef | None, dict[str, dict[str, Any]]]:
    """Store this read; return it, the previous snapshot of the same database and its statements."""
    try:
        with closing(_open_store(path)) as db, db:
            row = db.execute("SELECT id, taken_at FROM snapshots WHERE target = ? ORDER BY id DESC LIMIT 1",
                             (facts["database"],)).fetchone()
            previous = SnapshotRef(id=row[0], taken_at=row[1]) if row else None
            before: dict[str, dict[str, Any]] = {}
            if previous is not None:
                for key, calls, total in db.execute(
                        "SELECT key, calls, total_ms FROM statements WHERE snapshot_id = ?", (previous.id,)):
                    before[key] = {"calls": calls, "total_ms": total}
            taken = datetime.now(timezone.utc).isoformat(timespec="seconds")
            cur = db.execute("INSERT INTO snapshots (target, taken_at, server_version, extension_version, stats_reset)"
                             " VALUES (?, ?, ?, ?, ?)", (facts["database"], taken, facts["server_version"],
                                                         facts["extension_version"], facts["stats_reset"]))
            snap = SnapshotRef(id=int(cur.lastrowid), taken_at=taken)
            db.executemany(
                "INSERT OR REPLACE INTO statements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(snap.id, _key(s), s["queryid"], s["query"], s["calls"], s["total_ms"], s["plan_ms"], s["rows"],
                  s["shared_blks_hit"], s["shared_blks_read"], s["io_ms"], s["temp_blks"]) for s in statements])
            old = [r[0] for r in db.execute("SELECT id FROM snapshots WHERE target = ? ORDER BY id DESC LIMIT -1 "
                                            "OFFSET ?", (facts["database"], KEEP_SNAPSHOTS))]
            for snapshot_id in old:
                db.execute("DELETE FROM statements WHERE snapshot_id = ?", (snapshot_id,))
                db.execute("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))
    except sqlite3.Error as exc:
        raise InputError(f"cannot keep the snapshot in {path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot keep the snapshot in {path}: {exc.strerror}") from None
    return snap, previous, before


# ---- example params -------------------------------------------------------------------------------

LIMIT_EXAMPLE = 20


def param_columns(sql: str) -> dict[int, tuple[str, str, bool]] | None:
    """$n -> (table, column, is_array) for a SELECT whose every param is compared with a column
    (`=`, `= ANY(…)`, `IN (…)`) or is its LIMIT/OFFSET (table ""); None when one is not."""
    from pglast import parse_sql
    from pglast.ast import A_Expr, ColumnRef, ParamRef, RangeVar, SelectStmt
    from pglast.enums import A_Expr_Kind
    from pglast.visitors import Visitor

    try:
        statements = parse_sql(sql)
    except Exception:  # noqa: BLE001 - pglast raises several kinds; any means "no example"
        return None
    if len(statements) != 1 or not isinstance(statements[0].stmt, SelectStmt):
        return None
    select = statements[0].stmt
    tables: dict[str, str] = {}
    found: dict[int, tuple[str, str, bool]] = {}

    class Relations(Visitor):  # every table, subqueries' too: Ecto's aliases never repeat
        def visit_RangeVar(self, ancestors, node: RangeVar) -> None:
            tables[node.alias.aliasname if node.alias else node.relname] = node.relname

    Relations()(select)
    for clause, value in ((select.limitCount, LIMIT_EXAMPLE), (select.limitOffset, 0)):
        if isinstance(clause, ParamRef):
            found[clause.number] = ("", str(value), False)

    def column(ref) -> tuple[str, str] | None:
        if not isinstance(ref, ColumnRef):
            return None
        names = [getattr(f, "sval", None) for f in ref.fields]
        if None in names:
            return None
        if len(names) == 2 and names[0] in tables:
            return tables[names[0]], names[1]
        if len(names) == 1 and len(set(tables.values())) == 1:
            return next(iter(tables.values())), names[0]
        return None

    class Params(Visitor):
        def visit_A_Expr(self, ancestors, node: A_Expr) -> None:
            op = [getattr(n, "sval", None) for n in node.name or ()]
            if op != ["="]:
                return
            pairs = [(node.lexpr, node.rexpr), (node.rexpr, node.lexpr)]
            for left, right in pairs:
                col = column(left)
                if col is None:
                    continue
                rights = right if isinstance(right, tuple) else (right,)
                for param in rights:
                    if isinstance(param, ParamRef):
                        found[param.number] = (*col, node.kind == A_Expr_Kind.AEXPR_OP_ANY)

    Params()(select)
    numbers = set()

    class All(Visitor):
        def visit_ParamRef(self, ancestors, node) -> None:
            numbers.add(node.number)

    All()(select)
    if not numbers or not numbers <= set(found):
        return None
    return {n: found[n] for n in sorted(numbers)}


def sample_params(conn: Any, sql: str) -> list[Any] | None:
    """Values for the query's params from one row of each table it filters (see param_columns)."""
    import datetime as dt
    from decimal import Decimal

    from psycopg import sql as pgsql

    columns = param_columns(sql)
    if not columns:
        return None
    by_table: dict[str, list[str]] = {}
    for table, col, _ in columns.values():
        if table and col not in by_table.setdefault(table, []):
            by_table[table].append(col)
    rows: dict[str, dict[str, Any]] = {}
    for table, cols in by_table.items():
        query = pgsql.SQL("{mark}SELECT {cols} FROM {table} WHERE {present} LIMIT 1").format(
            mark=pgsql.SQL(MARK), cols=pgsql.SQL(", ").join(map(pgsql.Identifier, cols)),
            table=pgsql.Identifier(table),
            present=pgsql.SQL(" AND ").join(pgsql.SQL("{} IS NOT NULL").format(pgsql.Identifier(c)) for c in cols))
        row = conn.execute(query).fetchone()
        if row is None:
            return None
        rows[table] = dict(zip(cols, row))
    values: list[Any] = []
    for table, col, is_array in columns.values():
        value = int(col) if not table else rows[table][col]
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, (bytes, memoryview)):
            return None
        values.append([value] if is_array else value)
    return values


# ---- the report --------------------------------------------------------------------------------------

def top_queries(url: str | None, *, order_by: str = "total", limit: int = 10, snapshots: Path | None = None,
                keep_snapshot: bool = True, include_noise: bool = False, examples: bool = True) -> TopReport:
    if order_by not in ORDERS:
        raise InputError(f"unknown order {order_by!r}: use one of {', '.join(ORDERS)}")
    if limit < 1:
        raise InputError("limit must be at least 1")
    facts, statements = read_statements(url)
    notes = []
    snap = previous = None
    before: dict[str, dict[str, Any]] = {}
    if keep_snapshot:
        path = snapshots or stats_file()
        try:
            snap, previous, before = save_snapshot(path, facts, statements)
        except InputError as exc:
            notes.append(f"no before/after: {exc}")
    # Nested statements (functions, extension scripts, EXPLAIN ANALYZE's own run) repeat work
    # their top-level statement already counts.
    app = [s for s in statements if include_noise or (s["toplevel"] and not is_noise(s["query"]))]
    grand_total = sum(s["total_ms"] for s in app) or 0.0
    result = []
    for s in app:
        calls = s["calls"]
        hit, read = s["shared_blks_hit"], s["shared_blks_read"]
        delta = None
        if previous is not None:
            old = before.get(_key(s))
            if old is None:
                delta = Delta(calls=calls, total_ms=round(s["total_ms"], 3),
                              mean_ms=round(s["total_ms"] / calls, 3) if calls else None, previous_mean_ms=None)
            elif calls < old["calls"] or s["total_ms"] + 1e-6 < old["total_ms"]:
                delta = Delta(calls=calls, total_ms=round(s["total_ms"], 3),
                              mean_ms=round(s["total_ms"] / calls, 3) if calls else None,
                              previous_mean_ms=round(old["total_ms"] / old["calls"], 3) if old["calls"] else None,
                              reset=True)
            else:
                dc, dt = calls - old["calls"], s["total_ms"] - old["total_ms"]
                delta = Delta(calls=dc, total_ms=round(dt, 3), mean_ms=round(dt / dc, 3) if dc else None,
                              previous_mean_ms=round(old["total_ms"] / old["calls"], 3) if old["calls"] else None)
        result.append(Statement(
            queryid=s["queryid"], query=s["query"], calls=calls, total_ms=round(s["total_ms"], 3),
            mean_ms=round(s["total_ms"] / calls, 3) if calls else 0.0, plan_ms=round(s["plan_ms"], 3), rows=s["rows"],
            shared_blks_hit=hit, shared_blks_read=read,
            hit_ratio=round(hit / (hit + read), 4) if hit + read else None, io_ms=round(s["io_ms"], 3),
            temp_blks=s["temp_blks"], share=round(s["total_ms"] / grand_total, 4) if grand_total else 0.0,
            delta=delta))
    field = ORDERS[order_by]
    result.sort(key=lambda q: (-getattr(q, field), q.queryid))
    result = result[:limit]
    if examples and result:
        _add_examples(url, result, notes)
    if not app:
        notes.append("pg_stat_statements has no statements for this database yet: let the app run, then ask again")
    return TopReport(database=facts["database"], server_version=facts["server_version"],
                     extension_version=facts["extension_version"], order_by=order_by,
                     total_ms=round(grand_total, 3), stats_reset=facts["stats_reset"], snapshot=snap,
                     previous=previous, queries=result, notes=notes)


def _add_examples(url: str | None, statements: list[Statement], notes: list[str]) -> None:
    """Sample example params for each statement, read-only, each in its own short transaction."""
    import psycopg

    from tools.db.connect import connect

    with connect(url) as conn:
        conn.autocommit = True
        conn.execute("SET default_transaction_read_only = on")
        conn.execute("SET statement_timeout = '2s'")
        for statement in statements:
            if "$1" not in statement.query:
                continue
            try:
                statement.example_params = sample_params(conn, statement.query)
            except psycopg.Error:
                statement.example_params = None
    if any(s.example_params is not None for s in statements):
        notes.append("example_params are values from a row of each table the query filters, not the app's own: "
                     "good enough for EXPLAIN ANALYZE, but check a plan with values the app really sends")


def render_top(report: TopReport) -> str:
    lines = [f"pg_stat_statements on {report.database} (PostgreSQL {report.server_version}, extension "
             f"{report.extension_version}), by {report.order_by}; {report.total_ms:.1f} ms in all"
             + (f" since {report.stats_reset}" if report.stats_reset else "")]
    if report.previous is not None:
        lines.append(f"Compared with snapshot {report.previous.id} taken {report.previous.taken_at}.")
    for i, q in enumerate(report.queries, 1):
        ratio = f", cache hit {q.hit_ratio:.1%}" if q.hit_ratio is not None else ""
        lines.append(f"{i}. {q.calls} call(s), {q.total_ms:.1f} ms total ({q.share:.0%}), mean {q.mean_ms:.2f} ms, "
                     f"{q.rows} rows, I/O {q.io_ms:.1f} ms{ratio}, temp {q.temp_blks} blocks")
        if q.delta is not None and (q.delta.calls or q.delta.reset):
            d = q.delta
            before = f"{d.previous_mean_ms:.2f} ms" if d.previous_mean_ms is not None else "n/a"
            now = f"{d.mean_ms:.2f} ms" if d.mean_ms is not None else "no new calls"
            lines.append(f"   since then: {d.calls} call(s), {d.total_ms:.1f} ms; mean {now} (before: {before})"
                         + (" [counters were reset]" if d.reset else ""))
        query = " ".join(q.query.split())
        lines.append(f"   {query[:600]}{'…' if len(query) > 600 else ''}")
        if q.example_params is not None:
            lines.append(f"   example params (sampled): {json.dumps(q.example_params, default=str)}")
    for note in report.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)
