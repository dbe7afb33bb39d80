"""Lock tracing on a scratch database, as eugene's `trace` does, for Ecto migrations.

The migration's SQL is the SQL Ecto would send (tools.ecto.migration_sql). It runs statement by
statement inside one transaction that is always rolled back. After each statement the tracer
reads, for its own backend:

- pg_locks: the relation locks it now holds that it did not hold before;
- pg_class.relfilenode: a relation whose file changed was rewritten (table or index);
- pg_constraint.convalidated and pg_attribute.attnotnull: a constraint that became valid, or
  a column that became NOT NULL, means every row was scanned.

Inside a migration's transaction a lock is held from the statement that takes it until commit,
so "held" is the time of that statement and every one after it; under
`@disable_ddl_transaction true` each statement commits alone and holds its locks only while it
runs. Statements that cannot run in a transaction (CONCURRENTLY) are reported with the lock they
take and not run; neither is code whose SQL is only known when Elixir runs it.

Use a scratch database only: the statements take real locks while the trace runs (with a short
lock_timeout so the trace fails instead of waiting), and a copy of production's schema (not its
data volume) is what makes the trace meaningful.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from tools.ecto.migration import Migration, Op
from tools.ecto.migration_sql import RepoConfig, migration_sql
from tools.errors import InputError
from tools.migrations.rules.base import BLOCKS

FIRST_USER_OID = 16384  # FirstNormalObjectId: system catalogs sit below it
_CONCURRENT = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)
_MODES = {"AccessShareLock": "ACCESS SHARE", "RowShareLock": "ROW SHARE",
          "RowExclusiveLock": "ROW EXCLUSIVE", "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
          "ShareLock": "SHARE", "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
          "ExclusiveLock": "EXCLUSIVE", "AccessExclusiveLock": "ACCESS EXCLUSIVE"}
DANGEROUS = {"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}  # as eugene counts them
_KINDS = {"r": "table", "i": "index", "S": "sequence", "m": "materialized view", "p": "table",
          "I": "index", "t": "toast table", "v": "view"}


@dataclass
class TracedLock:
    relation: str
    kind: str
    mode: str
    statement: int  # index of the statement that took it
    line: int
    held_ms: float = 0.0
    new_relation: bool = False  # created in this transaction: invisible to everyone else

    @property
    def blocks(self) -> str:
        return "nothing (the relation is new)" if self.new_relation else BLOCKS.get(self.mode, "little")

    @property
    def dangerous(self) -> bool:
        return self.mode in DANGEROUS and not self.new_relation

    def as_json(self) -> dict[str, Any]:
        return {"relation": self.relation, "kind": self.kind, "mode": self.mode, "line": self.line,
                "statement": self.statement, "held_ms": round(self.held_ms, 3),
                "blocks": self.blocks, "new_relation": self.new_relation}


@dataclass
class TracedStatement:
    sql: str
    line: int
    ran: bool
    duration_ms: float = 0.0
    note: str = ""
    locks: list[TracedLock] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    scans: list[str] = field(default_factory=list)  # validations and NOT NULL checks

    def as_json(self) -> dict[str, Any]:
        return {"sql": self.sql, "line": self.line, "ran": self.ran,
                "duration_ms": round(self.duration_ms, 3), "note": self.note,
                "locks": [lk.as_json() for lk in self.locks], "rewrites": self.rewrites,
                "scans": self.scans}


@dataclass
class Trace:
    file: str
    in_transaction: bool
    statements: list[TracedStatement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def locks(self) -> list[TracedLock]:
        return [lk for s in self.statements for lk in s.locks]

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "in_transaction": self.in_transaction,
                "statements": [s.as_json() for s in self.statements], "notes": self.notes,
                "error": self.error, "rolled_back": True}

    def text(self) -> str:
        out = [f"trace {self.file} ({'one transaction' if self.in_transaction else 'no DDL transaction'}, rolled back)"]
        for i, s in enumerate(self.statements, 1):
            sql = " ".join(s.sql.split())
            sql = sql if len(sql) <= 100 else sql[:97] + "..."
            if not s.ran:
                out.append(f"  {i}. line {s.line}: not run: {s.note}\n       {sql}")
                continue
            out.append(f"  {i}. line {s.line}: {s.duration_ms:.1f} ms  {sql}")
            for lk in s.locks:
                if lk.new_relation and lk.mode not in DANGEROUS:
                    continue
                out.append(f"       {lk.mode} on {lk.kind} {lk.relation}, held {lk.held_ms:.1f} ms: {lk.blocks}")
            for r in s.rewrites:
                out.append(f"       rewrote {r}")
            for sc in s.scans:
                out.append(f"       scanned: {sc}")
            if s.note:
                out.append(f"       {s.note}")
        if self.error:
            out.append(f"  stopped: {self.error}")
        out.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(out)


def _snapshot(cur: Any) -> dict[str, Any]:
    rels = {oid: (name, kind, node) for oid, name, kind, node in cur.execute(
        "SELECT c.oid::bigint, c.relname, c.relkind::text, c.relfilenode::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid >= %s AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'",
        (FIRST_USER_OID,)).fetchall()}
    locks = {(rel, mode) for rel, mode in cur.execute(
        "SELECT relation::bigint, mode FROM pg_locks WHERE pid = pg_backend_pid() "
        "AND locktype = 'relation' AND granted AND relation >= %s", (FIRST_USER_OID,)).fetchall()}
    cons = {(rel, name): (valid, kind) for rel, name, valid, kind in cur.execute(
        "SELECT conrelid::bigint, conname, convalidated, contype::text FROM pg_constraint "
        "WHERE conrelid >= %s", (FIRST_USER_OID,)).fetchall()}
    notnull = {(rel, col): nn for rel, col, nn in cur.execute(
        "SELECT attrelid::bigint, attname, attnotnull FROM pg_attribute "
        "WHERE attrelid >= %s AND attnum > 0 AND NOT attisdropped", (FIRST_USER_OID,)).fetchall()}
    return {"rels": rels, "locks": locks, "cons": cons, "notnull": notnull}


def _sql_for(migration: Migration, config: RepoConfig) -> tuple[list, list[Op]]:
    dynamic: list[Op] = []
    statements = migration_sql(migration, "up", config=config, on_dynamic=dynamic.append)
    return statements, dynamic


def trace_migration(migration: Migration, database_url: str, *, display: str = "",
                    config: RepoConfig | None = None, earlier: list[Migration] = (),
                    lock_timeout_ms: int = 2000, statement_timeout_ms: int = 120_000) -> Trace:
    import psycopg

    from tools.db.connect import CONNECT_TIMEOUT_S, describe_error, resolve_url

    config = config or RepoConfig()
    url = resolve_url(database_url)
    statements, dynamic = _sql_for(migration, config)
    trace = Trace(display or migration.path or migration.module, not migration.disable_ddl_transaction)
    for op in dynamic:
        trace.notes.append(f"line {op.line}: not traced: its SQL is only known when the migration runs")
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise InputError(f"cannot connect to the scratch database: {describe_error(exc, url)}") from None
    try:
        with conn.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            cur.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
            others = cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()").fetchone()[0]
            if others:
                trace.notes.append(f"{others} other session(s) are connected to this database: the "
                                   "trace's locks block them while it runs; use a scratch copy")
            for prior in earlier:
                _replay(cur, prior, config, trace)
            if trace.error is None:
                _run(cur, statements, trace)
    finally:
        conn.rollback()
        conn.close()
    _hold_times(trace)
    return trace


def _replay(cur: Any, migration: Migration, config: RepoConfig, trace: Trace) -> None:
    """Earlier migrations being traced in the same run, applied untraced so this one finds the
    schema it expects. CONCURRENTLY is dropped: inside the transaction nobody else sees it."""
    import psycopg

    statements, _ = _sql_for(migration, config)
    for st in statements:
        try:
            cur.execute("SAVEPOINT replay")
            cur.execute(_CONCURRENT.sub("", st.sql))
            cur.execute("RELEASE SAVEPOINT replay")
        except psycopg.Error:
            cur.execute("ROLLBACK TO SAVEPOINT replay")


def _run(cur: Any, statements: list, trace: Trace) -> None:
    import psycopg

    from tools.db.connect import describe_error

    before = _snapshot(cur)
    for st in statements:
        traced = TracedStatement(st.sql, st.line, ran=False)
        trace.statements.append(traced)
        if _CONCURRENT.search(st.sql) and re.match(r"\s*(CREATE|DROP|REINDEX|ALTER)", st.sql, re.I):
            traced.note = ("cannot run inside a transaction, so it was not run; a concurrent build "
                           "takes SHARE UPDATE EXCLUSIVE (reads and writes continue) and waits for "
                           "older transactions")
            continue
        started = time.perf_counter()
        try:
            cur.execute(st.sql)
        except psycopg.Error as exc:
            traced.note = f"failed: {describe_error(exc)}"
            trace.error = (f"line {st.line} failed on the scratch database ({describe_error(exc)}); "
                           "is its schema at the point just before this migration?")
            return
        traced.duration_ms = (time.perf_counter() - started) * 1000
        traced.ran = True
        after = _snapshot(cur)
        _diff(before, after, traced, len(trace.statements) - 1)
        before = after


_STRENGTH = ["ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
             "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"]


def _diff(before: dict, after: dict, traced: TracedStatement, index: int) -> None:
    names = {**before["rels"], **after["rels"]}
    strongest: dict[int, str] = {}
    for rel, raw in after["locks"] - before["locks"]:
        mode = _MODES.get(raw, raw)
        if rel not in names:
            continue  # a transient relation (a rewrite's new heap) already gone again
        held = strongest.get(rel)
        if held is None or _STRENGTH.index(mode) > _STRENGTH.index(held):
            strongest[rel] = mode
    for rel, mode in sorted(strongest.items(), key=lambda kv: (-_STRENGTH.index(kv[1]), names[kv[0]][0])):
        name, kind, _node = names[rel]
        traced.locks.append(TracedLock(name, _KINDS.get(kind, kind), mode, index, traced.line,
                                       new_relation=rel not in before["rels"]))
    for oid, (name, kind, node) in after["rels"].items():
        old = before["rels"].get(oid)
        if old is not None and old[2] != node and kind in ("r", "i", "m", "p", "I"):
            traced.rewrites.append(f"{_KINDS.get(kind, kind)} {name}")
    for key, (valid, kind) in after["cons"].items():
        if key[0] not in before["rels"] or not valid or kind not in ("c", "f"):
            continue
        was = before["cons"].get(key)
        if was is None or not was[0]:
            table = names.get(key[0], (str(key[0]),))[0]
            what = "foreign key" if kind == "f" else "check"
            traced.scans.append(f"{what} {key[1]} validated against every row of {table}")
    for key, nn in after["notnull"].items():
        if nn and before["notnull"].get(key) is False:
            table = names.get(key[0], (str(key[0]),))[0]
            traced.scans.append(f"{table}.{key[1]} checked for NULLs (SET NOT NULL)")


def _hold_times(trace: Trace) -> None:
    durations = [s.duration_ms for s in trace.statements]
    for s in trace.statements:
        for lk in s.locks:
            lk.held_ms = sum(durations[lk.statement:]) if trace.in_transaction else durations[lk.statement]
