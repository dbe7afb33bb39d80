"""Running the health checks without changing anything, as whatever role we are given.

Everything runs in one READ ONLY transaction that is rolled back, with statement and lock
timeouts set locally, so a check can neither write nor queue behind a lock. Each check runs in
a savepoint: a permission error or a timeout costs that check alone, and is reported as
something we could not read, with what would let us. The intended role is one with only
pg_monitor (pg_read_all_stats + pg_read_all_settings + pg_stat_scan_tables): it sees every
statistic, but not the data, so pg_stats rows and sequence values of tables it cannot SELECT
stay hidden, and the checks that need them say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import psycopg
from psycopg.rows import dict_row

from tools.db.connect import connect, describe_error, server_version
from tools.errors import InputError
from tools.health.model import SEVERITY_ORDER, Env, Finding, Thresholds, Unread

log = logging.getLogger(__name__)

STATEMENT_TIMEOUT_MS = 10_000
LOCK_TIMEOUT_MS = 1_000


class HealthDB:
    """The connection as the checks see it: rows as dicts, and a place to say what was hidden."""

    def __init__(self, conn: psycopg.Connection, env: Env) -> None:
        self.conn = conn
        self.env = env
        self.unread: list[Unread] = []
        self.check_id = "runner"
        self.role: dict[str, Any] = {}

    def rows(self, sql: str, params: Iterable[Any] | dict | None = None) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(self, sql: str, params: Iterable[Any] | dict | None = None) -> dict[str, Any] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def try_rows(self, sql: str, params: Any = None, *, what: str) -> list[dict[str, Any]] | None:
        """Rows, or None (recorded as unread) when the role may not read them."""
        try:
            with self.conn.transaction():
                return self.rows(sql, params)
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState,
                psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction) as exc:
            self.cannot_read(what, describe_error(exc))
            return None

    def cannot_read(self, what: str, why: str) -> None:
        self.unread.append(Unread(check=self.check_id, what=what, why=why))

    @property
    def sees_all_stats(self) -> bool:
        return bool(self.role.get("superuser") or self.role.get("read_all_stats"))


@dataclass
class HealthReport:
    database: str
    server_version: str
    role: dict[str, Any]
    machine: Any
    checks: list[str]
    findings: list[Finding]
    unread: list[Unread] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "findings": [f.model_dump() for f in self.findings],
            "unread": [u.model_dump() for u in self.unread],
            "checks": self.checks,
            "database": self.database,
            "server_version": self.server_version,
            "role": self.role,
            "machine": self.machine.as_json() if self.machine is not None else None,
            "notes": self.notes,
        }

    def text(self, *, verbose_fixes: bool = True) -> str:
        from tools.health.render import render_report

        return render_report(self, verbose_fixes=verbose_fixes)


def check_ids() -> list[str]:
    from tools.health.checks import CHECKS

    return [c.id for c in CHECKS]


def select_checks(only: Iterable[str] | None = None, skip: Iterable[str] | None = None):
    from tools.health.checks import CHECKS

    known = {c.id for c in CHECKS}
    chosen = list(only or [])
    unknown = [c for c in [*chosen, *(skip or [])] if c not in known]
    if unknown:
        raise InputError(f"unknown check {unknown[0]!r} (checks: {', '.join(c.id for c in CHECKS)})")
    skip = set(skip or [])
    return [c for c in CHECKS if (not chosen or c.id in chosen) and c.id not in skip]


def run_health(
    database_url: str | None,
    *,
    project: Path | None = None,
    machine: Any = None,
    workload: str = "web",
    app_nodes: int = 1,
    only: Iterable[str] | None = None,
    skip: Iterable[str] | None = None,
    thresholds: Thresholds | None = None,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
    strict: bool = False,
) -> HealthReport:
    """Every selected check against the database. `machine` holds what flags said (cores, memory,
    storage); the rest is read from the host when the database is local. `strict` lets a bug in
    a check raise instead of being reported as unread (tests use it)."""
    from tools.health import config as cfg

    checks = select_checks(only, skip)
    if project is not None and not Path(project).is_dir():
        raise InputError(f"project directory not found: {project}")
    if workload not in cfg.WORKLOADS:
        raise InputError(f"invalid workload {workload!r}: use one of {', '.join(cfg.WORKLOADS)}")
    findings: list[Finding] = []
    with connect(database_url, application_name="ecto-optimizer health") as conn:
        conn.read_only = True
        try:
            db = open_session(conn, database_url, thresholds=thresholds, machine=machine, workload=workload,
                              project=project, app_nodes=app_nodes, statement_timeout_ms=statement_timeout_ms,
                              lock_timeout_ms=lock_timeout_ms)
            for check in checks:
                findings += run_one(db, check, strict=strict)
            version = server_version(conn)
        finally:
            conn.rollback()
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], [c.id for c in checks].index(f.check)))
    notes = []
    if not db.sees_all_stats:
        notes.append("this role is not a member of pg_read_all_stats (or pg_monitor): other roles' query texts "
                     "are hidden; GRANT pg_monitor TO <role> lets the checks see them")
    return HealthReport(database=db.env.database, server_version=version, role=db.role, machine=db.env.machine,
                        checks=[c.id for c in checks], findings=findings, unread=db.unread, notes=notes)


def open_session(conn: psycopg.Connection, database_url: str | None, *, thresholds: Thresholds | None = None,
                 machine: Any = None, workload: str = "web", project: Path | None = None, app_nodes: int = 1,
                 statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
                 lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> HealthDB:
    """Set the timeouts, and read what every check shares: settings, the role, the machine."""
    from tools.health import config as cfg

    env = Env(thresholds=thresholds or Thresholds(), workload=workload,
              project=Path(project) if project else None, app_nodes=app_nodes)
    db = HealthDB(conn, env)
    # The idle timeout covers our own client dying mid-run: the server then ends this transaction
    # instead of letting its snapshot hold back vacuum on the user's database.
    db.rows("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true), "
            "set_config('idle_in_transaction_session_timeout', %s, true)",
            (f"{statement_timeout_ms}ms", f"{lock_timeout_ms}ms", f"{max(statement_timeout_ms * 6, 60_000)}ms"))
    # reset_val, not setting: our own SET LOCAL timeouts must not hide the server's values.
    for row in db.rows("SELECT name, reset_val, unit, context, boot_val FROM pg_settings"):
        env.settings[row["name"]] = (row["reset_val"], row["unit"])
        env.contexts[row["name"]] = row["context"]
        env.boot_values[row["name"]] = row["boot_val"]
    env.server_version_num = conn.info.server_version
    info = db.one("""
        SELECT current_database() AS database, current_user AS role, r.rolsuper AS superuser,
               pg_has_role(current_user, 'pg_monitor', 'USAGE') AS monitor,
               pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
               pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS read_all_settings
        FROM pg_roles r WHERE r.rolname = current_user""") or {}
    env.database = info.get("database") or "?"
    db.role = {k: info.get(k) for k in ("role", "superuser", "monitor", "read_all_stats", "read_all_settings")}
    flags = machine if machine is not None else cfg.Machine()
    data_directory = env.setting("data_directory")
    host = None
    complete = flags.cores is not None and flags.memory_bytes is not None and flags.storage is not None
    if data_directory is None and not complete:
        db.check_id = "config"
        db.cannot_read("the server's data_directory, so the host machine was not read",
                       "it is visible to superusers and pg_read_all_settings only; pass --cores, --memory, --storage")
    elif data_directory and cfg.is_local(database_url, data_directory):
        host = cfg.detect_host(data_directory)
    env.machine = cfg.merge(flags, host)
    return db


def run_one(db: HealthDB, check: Any, *, strict: bool = False) -> list[Finding]:
    db.check_id = check.id
    try:
        with db.conn.transaction():  # a savepoint: a failure here costs this check only
            return check.run(db)
    except psycopg.errors.InsufficientPrivilege as exc:
        db.cannot_read(f"the data for {check.id}", describe_error(exc))
    except psycopg.errors.QueryCanceled:
        db.cannot_read(f"the data for {check.id}", "it took longer than the statement timeout and was cancelled")
    except psycopg.errors.LockNotAvailable:
        db.cannot_read(f"the data for {check.id}", "a lock it needed was held by another session")
    except psycopg.Error as exc:
        if strict:
            raise
        db.cannot_read(f"the data for {check.id}", f"the database refused the query: {describe_error(exc)}")
    except Exception as exc:  # noqa: BLE001 - one broken check must not cost the user every other finding
        if strict:
            raise
        log.warning("health check %s failed", check.id, exc_info=True)
        db.cannot_read(f"the result of {check.id}", f"the check failed: {type(exc).__name__}: {exc}")
    return []
