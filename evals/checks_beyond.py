"""Check kinds for partitioning, materialized views and per-group queries (the cases
latest-row-per-group, dashboard-materialized-view and partition-time-series). evals/checks.py
imports this module, which registers them.

  table_partitioned      after the new migrations, `table` is partitioned by `strategy` (default
                         RANGE) on `column`.
  rows_kept_in_place     the original table (the same relation, found by its OID in the pristine
                         database) is now a partition of `table`, holding all its rows: attached,
                         not copied.
  attach_without_scan    every ATTACH PARTITION in the new migrations was proved by existing
                         constraints (PostgreSQL said "partition constraint ... is implied by
                         existing constraints") and built no index while holding its lock.
  accepts_rows           a row with `column` set to each of `at` can be inserted into `table`
                         (a partition exists for it); checked in a transaction that is rolled back.
  partitions_scheduled   something creates future partitions of `table` on a schedule: an Oban
                         worker, pg_cron or pg_partman, calling SQL that creates partitions.
  latest_per_group_query the function (and the local functions it calls) asks the database for the
                         top rows of every group in one query: a lateral join with parent_as, a
                         window function partitioned by the group, or DISTINCT ON (`distinct:` with
                         an expression, not `true`).
  matview_serves_query   after the new migrations there is a materialized view with a unique index
                         REFRESH ... CONCURRENTLY accepts (refreshed concurrently on the scratch
                         copy to prove it), whose rows contain every row of the query `sql` (values
                         matched by position-free containment, dates and numbers normalised).
  code_reads_matview     the function reads a materialized view (through a schema over it, or its
                         name) and no longer has any of the `forbid` markers.
  refresh_scheduled      a REFRESH MATERIALIZED VIEW CONCURRENTLY of that view runs on a schedule: an
                         Oban worker listed in a crontab, or pg_cron; a refresh without CONCURRENTLY
                         fails the check (it locks the dashboard's readers out).

The migration checks apply the new migrations themselves, statement by statement on a copy of
the pristine database with PostgreSQL's DEBUG messages captured, then drop the copy.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from evals import database as db
from evals.checks import CheckContext, check
from tools.ecto.migration import parse_migration
from tools.ecto.migration_sql import migration_sql, sort_migrations
from tools.errors import InputError

# ---- applying migrations with PostgreSQL's own account of what it did ---------------------------


def _facts(ctx: CheckContext) -> dict[str, Any]:
    """Apply the new migrations to a fresh copy of the pristine database, capturing the messages
    of every statement, and read there everything the partition checks of this case ask about
    (row counts, test inserts); then drop the copy. Cached per check run."""
    cached = ctx.__dict__.get("_beyond_facts")
    if cached is not None:
        return cached
    facts: dict[str, Any] = {"statements": [], "error": None, "counts": {}, "inserts": {}}
    ctx.__dict__["_beyond_facts"] = facts
    specs = list(_specs(ctx.case.checks))
    tables = {a["table"] for k, a in specs if "table" in a}
    with psycopg.connect(ctx.pristine_url) as conn:
        facts["pristine_oids"] = dict(conn.execute(
            "SELECT relname, oid FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        ).fetchall())
        for t in tables:
            facts["counts"][("before", t)] = _count(conn, t)
    name = f"{ctx.state.database}_beyond"
    url = db.create_database(ctx.state.admin_url, name, template=ctx.state.pristine)
    try:
        try:
            facts["statements"] = apply_with_messages(url, ctx.new_migrations)
        except InputError as exc:
            facts["error"] = f"the new migrations do not apply: {exc}"
            return facts
        with psycopg.connect(url) as conn:
            facts["tables"] = {r[0]: (r[1], r[2], r[3]) for r in conn.execute("""
                SELECT c.relname, c.relkind, c.oid, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END
                FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')""")}
            facts["partitions"] = {}
            for parent, child, oid, bound in conn.execute("""
                    SELECT p.relname, c.relname, c.oid, pg_get_expr(c.relpartbound, c.oid)
                    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"""):
                facts["partitions"].setdefault(parent, []).append((child, oid, bound))
            for t in tables:
                facts["counts"][("after", t)] = _count(conn, t)
            conn.rollback()
            for kind, a in specs:
                if kind == "accepts_rows":
                    for at in a["at"]:
                        facts["inserts"][(a["table"], a["column"], at)] = _try_insert(conn, a["table"], a["column"], at)
    finally:
        db.drop_database(ctx.state.admin_url, name)
    return facts


def _specs(checks) -> Any:
    for spec in checks:
        kind = spec.kind if hasattr(spec, "kind") else spec["kind"]
        args = spec.args if hasattr(spec, "args") else spec.get("args", {})
        yield kind, args
        if kind in ("any_of", "all_of"):
            yield from _specs(args.get("checks", []))


def _count(conn, table: str) -> int | None:
    try:
        return conn.execute(pgsql.SQL("SELECT count(*) FROM {}").format(pgsql.Identifier(table))).fetchone()[0]
    except psycopg.Error:
        conn.rollback()
        return None


def _try_insert(conn, table: str, column: str, at: str) -> str | None:
    """None when a copy of an existing row, moved to `at`, can be inserted; else the error."""
    cols = [r[0] for r in conn.execute("""
        SELECT a.attname FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
          AND coalesce(pg_get_expr(d.adbin, d.adrelid), '') NOT LIKE 'nextval%%'
        ORDER BY a.attnum""", (table,)).fetchall()]
    values = [pgsql.Literal(at) if c == column else pgsql.Identifier(c) for c in cols]
    stmt = pgsql.SQL("INSERT INTO {t} ({cols}) SELECT {vals} FROM {t} LIMIT 1").format(
        t=pgsql.Identifier(table), cols=pgsql.SQL(", ").join(map(pgsql.Identifier, cols)),
        vals=pgsql.SQL(", ").join(values))
    try:
        conn.execute(stmt)
        return None
    except psycopg.Error as exc:
        return db.describe_error(exc)
    finally:
        conn.rollback()


def apply_with_messages(url: str, paths: list[Path]) -> list[tuple[str, list[str]]]:
    """Run each migration's up SQL as Ecto would (in a transaction unless @disable_ddl_transaction),
    returning every statement with the messages PostgreSQL sent while running it (DEBUG1 and up)."""
    ran: list[tuple[str, list[str]]] = []
    for path in sort_migrations(list(paths)):
        migration = parse_migration(Path(path).read_text(encoding="utf-8"), path=str(path))
        statements = migration_sql(migration, "up")
        in_transaction = not migration.disable_ddl_transaction
        with psycopg.connect(url, autocommit=not in_transaction) as conn:
            messages: list[str] = []  # noqa: B023 - the handler reads the list of the statement running
            conn.add_notice_handler(lambda diag: messages.append(diag.message_primary or ""))
            conn.execute("SET client_min_messages = debug1")
            for stmt in statements:
                messages.clear()
                try:
                    conn.execute(stmt.sql)
                except psycopg.Error as exc:
                    raise InputError(f"{Path(path).name}: {stmt.sql[:120]}: {db.describe_error(exc)}") from None
                ran.append((stmt.sql, list(messages)))
            if in_transaction:
                conn.commit()
    return ran


def _require(facts: dict[str, Any]) -> None:
    if facts.get("error"):
        raise InputError(facts["error"])


# ---- partitioning -------------------------------------------------------------------------------


@check("table_partitioned")
def table_partitioned(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    facts = _facts(ctx)
    _require(facts)
    table, column = args["table"], args["column"]
    strategy = args.get("strategy", "range").upper()
    found = facts["tables"].get(table)
    if found is None:
        return False, f"there is no table {table} after the migrations"
    kind, _, keydef = found
    if kind != "p":
        return False, f"{table} is not partitioned after the migrations"
    expected = f"{strategy} ({column})"
    if keydef != expected:
        return False, f"{table} is partitioned by {keydef}, not {expected}"
    parts = facts["partitions"].get(table, [])
    return True, f"{table} is partitioned by {keydef} ({len(parts)} partitions)"


@check("rows_kept_in_place")
def rows_kept_in_place(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    facts = _facts(ctx)
    _require(facts)
    table = args["table"]
    original = facts["pristine_oids"].get(table)
    match = [p for p in facts["partitions"].get(table, []) if p[1] == original]
    before, after = facts["counts"].get(("before", table)), facts["counts"].get(("after", table))
    if after != before:
        return False, f"{table} holds {after:,} rows after the migrations, {before:,} before" if after is not None \
            else f"{table} cannot be read after the migrations"
    if not match:
        return False, (f"the original {table} table is not one of its partitions: its rows were copied (which "
                       "rewrites the whole table, and loses rows written during the copy) instead of attached")
    return True, f"the original table is now partition {match[0][0]} ({match[0][2]}), all {after:,} rows kept"


@check("attach_without_scan")
def attach_without_scan(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    facts = _facts(ctx)
    _require(facts)
    attaches = [(s, m) for s, m in facts["statements"] if re.search(r"\bATTACH\s+PARTITION\b", s, re.I)]
    if not attaches:
        return False, "no migration attaches an existing table as a partition"
    problems = []
    for stmt, messages in attaches:
        implied = any("is implied by existing constraints" in m for m in messages)
        built = [m for m in messages if m.startswith("building index")]
        shown = " ".join(stmt.split())[:90]
        if not implied:
            problems.append(f"`{shown}` scanned the table under an ACCESS EXCLUSIVE lock (no CHECK constraint "
                            "proving the bound)")
        if built:
            problems.append(f"`{shown}` built an index while holding its lock ({built[0]})")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(attaches)} ATTACH PARTITION(s), each proved by constraints, no index built under the lock"


@check("accepts_rows")
def accepts_rows(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    facts = _facts(ctx)
    _require(facts)
    table, column = args["table"], args["column"]
    results = {at: facts["inserts"].get((table, column, at), "not tried") for at in args["at"]}
    failed = [f"{at}: {error}" for at, error in results.items() if error]
    if failed:
        return False, "cannot insert rows at " + "; ".join(failed)
    return True, f"rows at {', '.join(results)} find a partition"


_FUNCTION = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([\w.\"]+)\s*\(", re.I)


def _sources_under(workspace: Path, folders: tuple[str, ...], pattern: str) -> dict[str, str]:
    out = {}
    for folder in folders:
        for path in sorted((workspace / folder).glob(pattern)):
            if path.is_file():
                out[path.relative_to(workspace).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return out


@check("partitions_scheduled")
def partitions_scheduled(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    table = args["table"]
    files = _sources_under(ctx.workspace, ("lib", "priv/repo/migrations", "config"), "**/*.ex*")
    creates = re.compile(rf"PARTITION\s+OF\s+\"?{re.escape(table)}\b", re.I)
    functions = set()
    for text in files.values():
        for m in _FUNCTION.finditer(text):
            body = text[m.start():m.start() + 4000]
            if creates.search(body) or re.search(r"partition\s+of\s+%", body, re.I):
                functions.add(m.group(1).strip('"').split(".")[-1])
    for path, text in files.items():
        scheduled = "use Oban.Worker" in text or "cron.schedule" in text or "partman" in text
        if not scheduled:
            continue
        if creates.search(text) or any(fn in text for fn in functions) or "create_parent" in text:
            how = ("an Oban worker" if "use Oban.Worker" in text else
                   "pg_cron" if "cron.schedule" in text else "pg_partman")
            if "use Oban.Worker" in text:
                module = re.search(r"defmodule\s+([\w.]+)", text)
                listed = module and any(module.group(1) in t for p, t in files.items() if p.startswith("config/")
                                        or "Oban.Plugins.Cron" in t)
                if not listed:
                    return False, f"{path} creates partitions but no crontab runs {module.group(1) if module else it}"
            return True, f"{path}: {how} creates {table}'s coming partitions"
    return False, f"nothing creates {table}'s future partitions on a schedule (Oban cron worker, pg_cron, pg_partman)"


# ---- latest row per group -----------------------------------------------------------------------


def _code(args: dict[str, Any], ctx: CheckContext) -> tuple[set[str], list, str]:
    """The markers (tools.ecto.code) of the function and the local functions it reaches, those
    functions, and their source text."""
    from tools.ecto.code import function_markers, read_module
    from tools.ecto.elixir import text

    module = read_module(ctx.source(args["file"]))
    if not module.named(args["function"]):
        raise InputError(f"{args['file']} has no function {args['function']}")
    markers, functions = function_markers(module, args["function"])
    return markers, functions, "\n".join(text(n) for f in functions for n in f.body)


@check("latest_per_group_query")
def latest_per_group_query(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    markers, functions, source = _code(args, ctx)
    lateral = bool({"kw:inner_lateral_join", "kw:left_lateral_join"} & markers) or \
        re.search(r"join\(\s*[^,]+,\s*:(inner|left)_lateral", source) is not None
    if lateral and "call:parent_as" in markers:
        return True, "a lateral join with parent_as: one query for every group"
    window = "call:over" in markers and bool({"call:row_number", "call:rank", "call:dense_rank"} & markers) \
        and "partition_by" in source
    if window:
        return True, "a window function partitioned by the group: one query for every group"
    distinct = (re.search(r"distinct:\s*(?!true\b|false\b)[\w\[]", source)
                or re.search(r"distinct\(\s*[^,]+,\s*(?!true\b)\w", source))
    if distinct and ("kw:order_by" in markers or "call:order_by" in markers):
        return True, "DISTINCT ON the group with an order: one query for every group"
    return False, (f"{args['function']} (read: {', '.join(sorted(f.name for f in functions))}) does not ask the "
                   "database for the top row of each group (no lateral join with parent_as, no window function "
                   "partitioned by the group, no DISTINCT ON)")


# ---- materialized views -------------------------------------------------------------------------


def _matviews(url: str) -> dict[str, list[tuple[str, bool]]]:
    """view -> [(index definition, usable by REFRESH CONCURRENTLY)]"""
    with psycopg.connect(url) as conn:
        views = [r[0] for r in conn.execute("SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'")]
        out = {}
        for view in views:
            out[view] = [(r[0], bool(r[1])) for r in conn.execute("""
                SELECT pg_get_indexdef(x.indexrelid),
                       x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL AND x.indisvalid
                FROM pg_index x WHERE x.indrelid = to_regclass(%s)""", (view,))]
    return out


def _norm(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(str(value))
        return str(d.quantize(Decimal(1))) if d == d.to_integral_value() else str(d.normalize())
    return str(value)


@check("matview_serves_query")
def matview_serves_query(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    url = ctx.scratch_url()
    views = _matviews(url)
    if not views:
        return False, "no materialized view exists after the new migrations"
    with psycopg.connect(ctx.pristine_url) as conn:
        with psycopg.RawCursor(conn) as cur:
            cur.execute(args["sql"], args.get("params") or None)
            expected = [tuple(_norm(v) for v in row) for row in cur.fetchall()]
    details = []
    for view, indexes in views.items():
        if not any(usable for _, usable in indexes):
            details.append(f"{view} has no unique index on plain columns without WHERE, so REFRESH ... "
                           "CONCURRENTLY refuses it")
            continue
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                conn.execute(pgsql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(pgsql.Identifier(view)))
            except psycopg.Error as exc:
                details.append(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {view} fails: {db.describe_error(exc)}")
                continue
            rows = [[_norm(v) for v in row] for row in
                    conn.execute(pgsql.SQL("SELECT * FROM {}").format(pgsql.Identifier(view))).fetchall()]
        index = {}
        for row in rows:
            for value in row:
                index.setdefault(value, []).append(row)
        missing = []
        for want in expected:
            pool = index.get(want[0], rows) if want else rows
            if not any(_contains(row, want) for row in pool):
                missing.append(want)
        if missing:
            details.append(f"{view}: {len(missing)} of the query's {len(expected)} rows are not in it "
                           f"(e.g. {missing[0]})")
            continue
        return True, (f"{view} ({len(rows):,} rows) holds every row of the query ({len(expected):,}) and refreshes "
                      "CONCURRENTLY")
    return False, "; ".join(details)


def _contains(row: list[str], want: tuple[str, ...]) -> bool:
    pool = list(row)
    for value in want:
        if value in pool:
            pool.remove(value)
        else:
            return False
    return True


@check("code_reads_matview")
def code_reads_matview(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    views = set(_matviews(ctx.scratch_url()))
    if not views:
        return False, "no materialized view exists after the new migrations"
    schemas = {}
    for path, source in _sources_under(ctx.workspace, ("lib",), "**/*.ex").items():
        for m in re.finditer(r"defmodule\s+([\w.]+)\s+do.*?schema\s+\"(\w+)\"", source, re.S):
            if m.group(2) in views:
                schemas[m.group(1)] = m.group(2)
    markers, functions, source = _code(args, ctx)
    module_file = ctx.source(args["file"]).read_text(encoding="utf-8")
    used = [v for v in views if f'"{v}"' in source]
    for module, view in schemas.items():
        short = module.rsplit(".", 1)[-1]
        if re.search(rf"\b{re.escape(module)}\b", source) or (
                re.search(rf"\b{re.escape(short)}\b", source) and re.search(rf"alias\s+{re.escape(module)}\b|"
                                                                            rf"alias\s+[\w.]+\.{{[^}}]*\b{short}\b",
                                                                            module_file)):
            used.append(view)
    if not used:
        return False, f"{args['function']} does not read a materialized view ({', '.join(sorted(views))})"
    present = [m for m in args.get("forbid", []) if m in markers]
    if present:
        return False, f"{args['function']} reads {used[0]} but still has {', '.join(present)}"
    return True, f"{args['function']} reads the materialized view {used[0]}"


@check("refresh_scheduled")
def refresh_scheduled(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    views = set(_matviews(ctx.scratch_url()))
    files = _sources_under(ctx.workspace, ("lib", "priv/repo/migrations", "config"), "**/*.ex*")
    configs = "\n".join(t for p, t in files.items() if p.startswith("config/") or "Oban.Plugins.Cron" in t)
    blocking = []
    for view in sorted(views):
        pattern = re.compile(rf"REFRESH\s+MATERIALIZED\s+VIEW\s+(CONCURRENTLY\s+)?\"?{re.escape(view)}\b", re.I)
        for path, source in files.items():
            for m in pattern.finditer(source):
                if not m.group(1):
                    blocking.append(f"{path} refreshes {view} without CONCURRENTLY (readers wait for the whole "
                                    "refresh)")
                    continue
                if "cron.schedule" in source:
                    return True, f"{path}: pg_cron refreshes {view} concurrently"
                module = re.search(r"defmodule\s+([\w.]+)", source)
                if "use Oban.Worker" in source and module and module.group(1) in configs:
                    return True, f"{module.group(1)} refreshes {view} concurrently, on an Oban crontab"
                if "use Oban.Worker" in source:
                    blocking.append(f"{path} refreshes {view}, but no crontab runs {module.group(1) if module else it}")
    if blocking:
        return False, "; ".join(blocking)
    return False, "nothing refreshes the materialized view on a schedule (an Oban cron worker or pg_cron)"
