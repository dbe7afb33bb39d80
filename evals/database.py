"""Databases for eval cases: built from the project's own migrations, copied for checks.

The case database is what the agent sees. At prepare time we also keep a pristine copy that
the agent is never told about, so checks can apply the agent's new migrations to a fresh clone
of the untouched data even if the agent changed the case database directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import psycopg
from psycopg import sql

from tools.db.connect import bind_like_ecto, describe_error
from tools.ecto.migration import parse_migration
from tools.ecto.migration_sql import migration_sql, sort_migrations
from tools.errors import InputError


def admin_url_for(admin_url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template:
            # A template must have no other sessions; the agent's may linger after a run.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                           sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url_for(admin_url, name)
    if not template:
        with psycopg.connect(url, autocommit=True) as conn:
            for ext in ("pg_stat_statements", "hypopg"):
                try:
                    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
                except psycopg.Error:
                    pass  # HypoPG is optional; tools that need it say so
    return url


def apply_migrations(url: str, paths: Iterable[Path]) -> list[str]:
    """Run each migration's SQL as Ecto would: in a transaction unless @disable_ddl_transaction.

    Returns the SQL statements run, for check details. Raises InputError naming the migration
    and the statement that failed.
    """
    ran: list[str] = []
    for path in sort_migrations(list(paths)):
        migration = parse_migration(Path(path).read_text(encoding="utf-8"), path=str(path))
        statements = migration_sql(migration, "up")
        in_transaction = not migration.disable_ddl_transaction
        with psycopg.connect(url, autocommit=not in_transaction) as conn:
            for stmt in statements:
                try:
                    conn.execute(stmt.sql)
                except psycopg.Error as exc:
                    raise InputError(f"{Path(path).name}: {stmt.sql[:120]}: {describe_error(exc)}") from None
                ran.append(stmt.sql)
            if in_transaction:
                conn.commit()
    return ran


def run_script(url: str, script: str) -> None:
    if script.strip():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(script)


def vacuum_analyze(url: str, flush_timeout: float = 10.0) -> None:
    """VACUUM ANALYZE the whole database. Statistics alone are not enough: the visibility map
    decides what an index-only scan costs, and a freshly loaded table has none until vacuumed,
    so without this the plans the checks compare would change whenever autovacuum got there."""
    import time

    with psycopg.connect(url, autocommit=True) as conn:  # VACUUM cannot run in a transaction
        # VACUUM marks a page all-visible only once the commits of its rows are known flushed to
        # the WAL, and it knows that per group of 32 transaction ids. With synchronous_commit =
        # off (our private servers) the rows just loaded are not flushed yet, so it would skip
        # every page: wait for the WAL writer (a few wal_writer_delay), then VACUUM without
        # ANALYZE, whose per-table transactions would commit asynchronously into the same group
        # again and undo the wait; ANALYZE afterwards, when the visibility map is set.
        try:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
            deadline = time.monotonic() + flush_timeout
            while not conn.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (target,)).fetchone()[0] \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
        except psycopg.Error:
            pass  # a standby or a restricted role: vacuum anyway, as well as it can
        conn.execute("VACUUM")
        conn.execute("ANALYZE")


def replay_workload(url: str, workload: Iterable[Any]) -> None:
    """Run the app's queries so pg_stat_statements holds what production would show."""
    from tools.explain.params import parse_params

    with bind_like_ecto(psycopg.connect(url, autocommit=True)) as conn:
        # Only this database's statements: the server may be shared with other workspaces (and a
        # test run's other cases), whose statistics are theirs.
        conn.execute("SELECT pg_stat_statements_reset(0, d.oid, 0) FROM pg_database d "
                     "WHERE d.datname = current_database()")
        with psycopg.RawCursor(conn) as cur:
            for q in workload:
                params = parse_params(q.params) if q.params else None
                for _ in range(q.calls):
                    cur.execute(q.sql, params)
                    if cur.description:
                        cur.fetchall()


def plan_cost(url: str, query: str, params: list | None, *, analyze: bool = False,
              settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Total cost (and with analyze, execution time) of a query's plan, in a rolled-back transaction."""
    from tools.explain.params import parse_params
    from tools.explain.plan import parse_plan

    opts = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    with bind_like_ecto(psycopg.connect(url)) as conn:
        try:
            for key, value in (settings or {}).items():
                conn.execute("SELECT set_config(%s, %s, true)", (key, value))
            with psycopg.RawCursor(conn) as cur:
                cur.execute(f"EXPLAIN ({opts}) {query}", parse_params(params) if params else None)
                raw = cur.fetchone()[0]
        finally:
            conn.rollback()
    plan = parse_plan(raw)
    return {"cost": plan.root.total_cost, "ms": plan.execution_time_ms, "plan": plan}
