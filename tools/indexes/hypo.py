"""What-if indexes: HypoPG's hypothetical ones, or real ones in a transaction on a scratch database.

HypoPG (shared/reference/index-advisors.md §10) keeps hypothetical indexes in the backend's
private memory: nothing is written and no lock is taken beyond EXPLAIN's own, so it is safe on a
user's database, even inside a READ ONLY transaction. Plain EXPLAIN sees them; EXPLAIN ANALYZE
and execution do not. Version 1.3.1 (Debian 12) cannot hide existing indexes; 1.4 can.

Costs and sizes of hypothetical indexes are biased (no tree height, sizes up to twice the real
ones), so they are compared with each other only, never with real indexes.

Without HypoPG, on a database the user declares disposable, `ScratchBackend` builds real indexes
inside the advisor's transaction (rolled back at the end) and takes one out of a plan by dropping
it inside a savepoint and rolling back to it, which restores it without rebuilding.
"""

from __future__ import annotations

import itertools

import psycopg

from tools.base import ToolError
from tools.db.connect import describe_error
from tools.indexes.candidates import IndexDef

HIDE_NOTE = ("HypoPG {version} cannot hide existing indexes (hypopg_hide_index arrived in 1.4): "
             "costs are measured with every existing index in place, so whether an existing index "
             "is still needed was judged from its columns, not measured")


def hypopg_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    return row[0] if row else None


def hypopg_installable(conn: psycopg.Connection) -> bool:
    """The server has HypoPG's files, so CREATE EXTENSION would work for a privileged role."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'").fetchone()
    return row is not None


def missing_note(conn: psycopg.Connection) -> str:
    if hypopg_installable(conn):
        how = ("the server has it: `CREATE EXTENSION hypopg;` in this database (it writes nothing; "
               "hypothetical indexes live in one session's memory) would let the advisor validate them")
    else:
        how = "install it (Debian/Ubuntu: postgresql-<major>-hypopg) and `CREATE EXTENSION hypopg;`"
    return f"HypoPG is not available in this database, so no candidate was validated; {how}"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


class CandidateError(Exception):
    """The database refused to build this index (a function that is not IMMUTABLE, say)."""


class HypoBackend:
    """Hypothetical indexes, created and dropped as the evaluator asks for them."""

    kind = "hypopg"

    def __init__(self, conn: psycopg.Connection, version: str) -> None:
        self.conn = conn
        self.version = version
        self.created: dict[IndexDef, tuple[int, str]] = {}
        self.sizes: dict[IndexDef, int] = {}
        self.failed: dict[IndexDef, str] = {}
        self.can_hide = _version_tuple(version) >= (1, 4)
        self._savepoints = itertools.count()

    def _create(self, idx: IndexDef) -> None:
        if idx in self.failed:
            raise CandidateError(self.failed[idx])
        sp = f"eo_hypo_{next(self._savepoints)}"
        self.conn.execute(f"SAVEPOINT {sp}")
        try:
            oid, name = self.conn.execute("SELECT indexrelid, indexname FROM hypopg_create_index(%s)",
                                          (idx.sql(concurrently=False).rstrip(";"),)).fetchone()
        except psycopg.errors.QueryCanceled:
            raise
        except psycopg.Error as exc:
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {sp}")
            self.failed[idx] = describe_error(exc)
            raise CandidateError(self.failed[idx]) from None
        self.conn.execute(f"RELEASE SAVEPOINT {sp}")
        self.created[idx] = (oid, name)
        if idx not in self.sizes:
            size = self.conn.execute("SELECT hypopg_relation_size(%s)", (oid,)).fetchone()[0]
            self.sizes[idx] = int(size or 0)

    def _drop(self, idx: IndexDef) -> None:
        oid, _ = self.created.pop(idx)
        self.conn.execute("SELECT hypopg_drop_index(%s)", (oid,))

    def activate(self, active: frozenset[IndexDef], tables: set[tuple[str, str]]) -> None:
        """Exactly `active` among the hypothetical indexes on `tables`; others are left alone."""
        for idx in [i for i in self.created if (i.schema, i.table) in tables and i not in active]:
            self._drop(idx)
        for idx in active:
            if idx not in self.created:
                self._create(idx)

    def size(self, idx: IndexDef) -> int:
        if idx not in self.sizes:
            self._create(idx)
        return self.sizes[idx]

    def names(self) -> dict[str, IndexDef]:
        return {name: idx for idx, (_, name) in self.created.items()}

    def hide(self, index_names: list[str]) -> None:
        """`index_names`: qualified, quoted identifiers (`"audit"."events_kind_index"`)."""
        for name in index_names:
            self.conn.execute("SELECT hypopg_hide_index(%s::regclass)", (name,))

    def unhide(self) -> None:
        if self.can_hide:
            self.conn.execute("SELECT hypopg_unhide_all_indexes()")

    def close(self) -> None:
        try:
            self.conn.execute("SELECT hypopg_reset()")
            self.unhide()
        except psycopg.Error:
            pass  # the transaction is rolled back next, and the session closed after it
        self.created.clear()


class ScratchBackend:
    """Real indexes built in the advisor's transaction, on a database declared disposable.

    CREATE INDEX (not CONCURRENTLY) holds a SHARE lock on the table until the rollback: writers
    wait. That is why this needs `--scratch`.
    """

    kind = "scratch"
    can_hide = True

    def __init__(self, conn: psycopg.Connection, build_timeout_ms: int = 300_000,
                 statement_timeout_ms: int = 30_000) -> None:
        self.conn = conn
        self.created: dict[IndexDef, str] = {}
        self.sizes: dict[IndexDef, int] = {}
        self.failed: dict[IndexDef, str] = {}
        self.build_timeout_ms = build_timeout_ms
        self.statement_timeout_ms = statement_timeout_ms
        self._names = itertools.count(1)
        self._inactive: frozenset[IndexDef] = frozenset()
        self._hidden: list[str] = []
        self._open = False

    def _build(self, idx: IndexDef) -> None:
        if idx in self.failed:
            raise CandidateError(self.failed[idx])
        name = f"ecto_optimizer_scratch_{next(self._names)}"
        self.conn.execute("SAVEPOINT eo_build")
        try:
            self.conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{self.build_timeout_ms}ms",))
            self.conn.execute(idx.sql(concurrently=False, name=name).rstrip(";"))
            self.conn.execute("SELECT set_config('statement_timeout', %s, true)",
                              (f"{self.statement_timeout_ms}ms",))
        except psycopg.errors.LockNotAvailable:
            raise ToolError(f"building {idx.label()} on the scratch database waited too long for its lock; "
                            "nothing was changed") from None
        except psycopg.Error as exc:
            self.conn.execute("ROLLBACK TO SAVEPOINT eo_build")
            self.failed[idx] = describe_error(exc)
            raise CandidateError(self.failed[idx]) from None
        self.conn.execute("RELEASE SAVEPOINT eo_build")
        self.created[idx] = name
        self.sizes[idx] = int(self.conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0])

    def activate(self, active: frozenset[IndexDef], tables: set[tuple[str, str]]) -> None:
        """Build what is missing (outside any savepoint, so it lasts), then drop the others
        inside a savepoint that `deactivate` rolls back."""
        for idx in active:
            if idx not in self.created:
                self._build(idx)
        self.conn.execute("SAVEPOINT eo_eval")
        self._open = True
        for idx, name in self.created.items():
            if (idx.schema, idx.table) in tables and idx not in active:
                self.conn.execute(f'DROP INDEX "{name}"')
        for name in self._hidden:
            self.conn.execute(f'DROP INDEX {name}')

    def deactivate(self) -> None:
        if self._open:
            self.conn.execute("ROLLBACK TO SAVEPOINT eo_eval")
            self._open = False

    def size(self, idx: IndexDef) -> int:
        if idx not in self.sizes:
            self._build(idx)
        return self.sizes[idx]

    def names(self) -> dict[str, IndexDef]:
        return {name: idx for idx, name in self.created.items()}

    def hide(self, index_names: list[str]) -> None:
        """`index_names`: qualified, quoted identifiers (`"audit"."events_kind_index"`)."""
        self._hidden = list(index_names)

    def unhide(self) -> None:
        self._hidden = []

    def close(self) -> None:
        self.created.clear()
