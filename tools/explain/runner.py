"""Getting a plan out of a user's database without changing anything in it.

Every statement runs inside a transaction that is rolled back, with statement and lock
timeouts set locally so neither a slow query nor a waiting lock can hurt production. Reads run
READ ONLY. Writes are analysed only when the caller allows it, and still rolled back; what a
rollback cannot undo (sequences, effects outside the database) is stated in the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tools.db.connect import connect, describe_error, server_version
from tools.errors import InputError
from tools.explain.classify import Kind, Statement, classify

GENERIC_STATEMENT = "ecto_optimizer_generic"


@dataclass
class ExplainOptions:
    analyze: bool = True
    allow_writes: bool = False
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000


@dataclass
class CapturedPlan:
    statement: Statement
    plan_json: str
    server_version: str
    analyzed: bool
    mode: str  # "analyze", "plain" (no ANALYZE) or "generic" (no params: generic plan)
    notes: list[str] = field(default_factory=list)


def capture_plan(sql: str, params: list[Any] | None, database_url: str | None,
                 options: ExplainOptions | None = None) -> CapturedPlan:
    options = options or ExplainOptions()
    stmt = classify(sql)
    notes: list[str] = []
    if params is not None and len(params) < stmt.param_count:
        raise InputError(f"the query uses ${stmt.param_count} but {len(params)} params were given")
    if params is not None and stmt.param_count == 0 and params:
        notes.append(f"{len(params)} params given, but the query has no $n placeholders; they were ignored")
        params = None

    generic = stmt.param_count > 0 and params is None
    analyze = options.analyze and not generic
    if analyze and stmt.kind is Kind.WRITE and not options.allow_writes:
        analyze = False
        notes.append(f"{stmt.verb} with writes was explained without running it (no ANALYZE): "
                     "allow writes to measure it, inside a transaction that is rolled back")
    if analyze and stmt.kind is Kind.WRITE:
        notes.append("the statement ran and was rolled back: data is unchanged, but sequences it "
                     "advanced stay advanced and side effects outside the database are not undone")
    if generic:
        notes.append("no params given: this is the generic plan PostgreSQL would use for any values "
                     "(estimates only, nothing was run)")

    with connect(database_url) as conn:
        version = server_version(conn)
        conn.read_only = not (analyze and stmt.kind is Kind.WRITE)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT set_config('statement_timeout', %s, true), "
                            "set_config('lock_timeout', %s, true)",
                            (f"{options.statement_timeout_ms}ms", f"{options.lock_timeout_ms}ms"))
            if generic:
                plan_rows = _generic_plan(conn, stmt)
            else:
                opts = "ANALYZE, BUFFERS, VERBOSE, SETTINGS, FORMAT JSON" if analyze else \
                    "VERBOSE, SETTINGS, FORMAT JSON"
                with psycopg.RawCursor(conn) as cur:
                    cur.execute(f"EXPLAIN ({opts}) {stmt.sql}", params or None)
                    plan_rows = cur.fetchone()
        except psycopg.errors.QueryCanceled:
            raise InputError(
                f"the query ran longer than the {options.statement_timeout_ms} ms statement timeout and was "
                "cancelled; explain it without running (--no-analyze) or raise --statement-timeout"
            ) from None
        except psycopg.errors.LockNotAvailable:
            raise InputError(
                f"a lock the query needs was not granted within the {options.lock_timeout_ms} ms lock timeout "
                "(another session holds it); nothing was run"
            ) from None
        except psycopg.Error as exc:
            raise InputError(f"the database refused the query: {describe_error(exc, database_url)}") from None
        finally:
            conn.rollback()

    raw = plan_rows[0] if plan_rows else None
    plan_json = raw if isinstance(raw, str) else json.dumps(raw)
    mode = "generic" if generic else ("analyze" if analyze else "plain")
    return CapturedPlan(stmt, plan_json, version, analyze, mode, notes)


def _generic_plan(conn: psycopg.Connection, stmt: Statement) -> tuple:
    """The plan for unknown values: PG16's GENERIC_PLAN, else Ecto's PREPARE/EXECUTE-with-NULLs."""
    with psycopg.RawCursor(conn) as cur:
        if conn.info.server_version >= 160000:
            cur.execute(f"EXPLAIN (GENERIC_PLAN, VERBOSE, SETTINGS, FORMAT JSON) {stmt.sql}")
            return cur.fetchone()
        cur.execute(f"PREPARE {GENERIC_STATEMENT} AS {stmt.sql}")
        try:
            cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            nulls = ", ".join(["NULL"] * stmt.param_count)
            cur.execute(f"EXPLAIN (VERBOSE, SETTINGS, FORMAT JSON) EXECUTE {GENERIC_STATEMENT}({nulls})")
            return cur.fetchone()
        finally:
            cur.execute(f"DEALLOCATE {GENERIC_STATEMENT}")
