"""What a health check is and what it reports.

A check is split in two so its judgement can be tested without a database: `collect` reads the
catalog and statistics (SQL only, read-only), `evaluate` turns what was read into findings.
Examples are tests: `setup` examples build the condition in a real database and run the whole
check; `data` examples feed `evaluate` directly, for conditions a test cannot create (an XID age
of 700 million, a 100 GB table).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from tools.health.runner import HealthDB

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class HealthFix(BaseModel):
    """The fix, in the forms that apply: an Ecto migration or repo config, SQL, postgresql.conf
    lines, or something to do once by hand (ANALYZE, cancel a session)."""

    ecto: str | None = None
    sql: str | None = None
    config: str | None = None
    action: str | None = None


class Finding(BaseModel):
    check: str
    severity: Severity
    object: str  # what it is about: "public.orders_customer_id_index", "setting work_mem", "server"
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)  # the numbers the message rests on
    fix: HealthFix = Field(default_factory=HealthFix)


class Unread(BaseModel):
    """Something a check could not read, and what would let it."""

    check: str
    what: str
    why: str


def _t(default: Any, source: str) -> Any:
    return field(default=default, metadata={"source": source})


@dataclass
class Thresholds:
    """Every threshold a check uses, with where it comes from. The defaults follow the tools in
    shared/reference/db-health.md; "ours" marks floors chosen here to keep tiny objects quiet."""

    unused_index_max_scans: int = _t(50, "pg-index-health unused_indexes.sql, ecto_psql_extras min_scans")
    unused_index_min_bytes: int = _t(1 << 20, "ecto_psql_extras diagnose (>= 1 MB)")
    unused_index_warn_bytes: int = _t(10 << 20, "PgHero unused indexes (>= 10 MB)")
    bloat_min_ratio: float = _t(0.10, "pg-index-health bloated_* (>= 10 %)")
    bloat_min_bytes: int = _t(1 << 20, "ours: below 1 MB of waste a rebuild is not worth it")
    bloat_warn_bytes: int = _t(100 << 20, "PgHero index_bloat_bytes (100 MB)")
    cache_hit_good: float = _t(0.99, "PgHero cache hit rate (good >= 99 %)")
    cache_hit_bad: float = _t(0.985, "ecto_psql_extras diagnose (>= 0.985)")
    cache_hit_min_blocks: int = _t(10_000, "ours: fewer block reads say nothing about a working set")
    sequence_used_ratio: float = _t(0.90, "PgHero sequences (> 0.9), pg-index-health (remaining <= 10 %)")
    xid_remaining_warn: int = _t(1_500_000_000, "PgHero dashboard transaction ID threshold (1.5 B)")
    xid_remaining_error: int = _t(10_000_000, "PgHero transaction_id_danger default (10 M)")
    autovacuum_freeze_margin: int = _t(2_000_000, "PgHero autovacuum_danger (2 M)")
    hot_table_min_rows: int = _t(1_000_000, "ours: where the default 20 % scale factor waits for 200k dead rows")
    hot_table_min_churn: float = _t(0.10, "ours: updates+deletes since the stats reset, as a share of rows")
    long_running_s: float = _t(60.0, "PgHero long_running_query_sec (60 s)")
    idle_in_transaction_s: float = _t(60.0, "PgHero long_running_query_sec, applied to idle time")
    idle_in_transaction_count: int = _t(100, "PgHero dashboard (>= 100 idle in transaction)")
    blocked_warn_s: float = _t(5.0, "ours: shorter waits are ordinary row-lock queues")
    seq_scan_min_rows: int = _t(10_000, "PgHero missing indexes (n_live_tup >= 10000)")
    seq_scan_min_scans: int = _t(100, "pg-index-health tables_with_missing_indexes (seq_scan + idx_scan > 100)")
    seq_scan_max_index_share: float = _t(0.95, "PgHero missing indexes (index share < 95 %)")
    fk_table_warn_rows: int = _t(10_000, "PgHero missing indexes row floor, applied to the referencing table")
    stale_min_rows: int = _t(1_000, "ours: estimates on smaller tables hardly change plans")
    connections_warn: float = _t(0.70, "postgresqltuner (warn above 70 % of max_connections)")
    connections_bad: float = _t(0.90, "postgresqltuner (bad above 90 %)")

    @classmethod
    def sources(cls) -> dict[str, tuple[Any, str]]:
        return {f.name: (f.default, f.metadata.get("source", "")) for f in fields(cls)}

    def updated(self, **overrides: Any) -> "Thresholds":
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise KeyError(f"unknown thresholds: {', '.join(sorted(unknown))}")
        return Thresholds(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **overrides})


@dataclass
class Env:
    """What every check may consult besides its own query: thresholds, server settings, the
    machine and the project."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    settings: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (setting, unit)
    contexts: dict[str, str] = field(default_factory=dict)  # name -> pg_settings.context (postmaster, user...)
    boot_values: dict[str, str] = field(default_factory=dict)  # name -> the built-in default
    server_version_num: int = 150000
    database: str = "db"
    machine: Any = None  # tools.health.config.Machine
    workload: str = "web"
    project: Path | None = None
    app_nodes: int = 1

    def setting(self, name: str) -> str | None:
        entry = self.settings.get(name)
        return entry[0] if entry else None

    def setting_bytes(self, name: str) -> int | None:
        """A memory setting in bytes (pg_settings gives a number and a unit such as 8kB)."""
        entry = self.settings.get(name)
        if not entry:
            return None
        value, unit = entry
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        if number < 0:
            return int(number)
        return int(number * unit_bytes(unit))

    def setting_float(self, name: str) -> float | None:
        value = self.setting(name)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def setting_ms(self, name: str) -> float | None:
        entry = self.settings.get(name)
        if not entry:
            return None
        try:
            number = float(entry[0])
        except (TypeError, ValueError):
            return None
        return number * {"ms": 1, "s": 1000, "min": 60_000, None: 1}.get(entry[1], 1)


def unit_bytes(unit: str | None) -> int:
    """pg_settings units for memory: '8kB' (blocks), 'kB', 'MB', 'B'."""
    if not unit:
        return 1
    for suffix, factor in (("kB", 1024), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)):
        if unit.endswith(suffix):
            head = unit[: -len(suffix)]
            return int(head or 1) * factor
    return 1


@dataclass(frozen=True)
class Example:
    """A condition the check must (fires=True) or must not (fires=False) report.

    `setup` runs in a fresh database as its owner, one statement at a time outside any
    transaction; `failing` statements run next and must fail (a concurrent build that leaves an
    invalid index); `hold` statements run on extra connections left
    open inside their transaction; `wait` statements run on extra connections that block (each in
    a thread) until the holders roll back. `data` feeds `evaluate` directly, with `settings`.
    `object` names a finding that must be among them (with `severity` and `fix_has` checked on
    it); `machine` and `project` stand in for flags and an Ecto project; `thresholds` overrides defaults (a test cannot
    wait 60 seconds for a query to become long-running).
    """

    fires: bool
    setup: str = ""
    failing: tuple[str, ...] = ()  # run after `setup`, one by one, each expected to fail
    hold: tuple[str, ...] = ()
    wait: tuple[str, ...] = ()
    data: Any = None
    settings: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)  # cores, memory, storage as the flags take them
    project: dict[str, str] = field(default_factory=dict)  # files of an Elixir project: path -> text
    thresholds: dict[str, Any] = field(default_factory=dict)
    object: str | None = None
    severity: Severity | None = None
    fix_has: tuple[str, ...] = ()  # strings the first finding's fix must contain
    note: str = ""


class HealthCheck:
    """One check. Subclasses document `what`, `why`, `threshold` (with its source) and `fix`."""

    id: ClassVar[str]
    title: ClassVar[str]
    what: ClassVar[str]
    why: ClassVar[str]
    threshold: ClassVar[str]
    fix: ClassVar[str]
    examples: ClassVar[list[Example]] = []

    def collect(self, db: "HealthDB") -> Any:
        raise NotImplementedError

    def evaluate(self, data: Any, env: Env) -> list[Finding]:
        raise NotImplementedError

    def run(self, db: "HealthDB") -> list[Finding]:
        data = self.collect(db)
        if data is None:
            return []
        return self.evaluate(data, db.env)

    def finding(self, severity: Severity, obj: str, message: str, evidence: dict[str, Any] | None = None,
                fix: HealthFix | None = None) -> Finding:
        return Finding(check=self.id, severity=severity, object=obj, message=message,
                       evidence=evidence or {}, fix=fix or HealthFix())

    @classmethod
    def doc(cls) -> dict[str, str]:
        return {"id": cls.id, "title": cls.title, "what": cls.what, "why": cls.why,
                "threshold": cls.threshold, "fix": cls.fix, "notes": inspect.cleandoc(cls.__doc__ or "")}


def qualified(schema: str, name: str) -> str:
    """`orders` in public, `billing.invoices` elsewhere: how people name their tables."""
    return name if schema == "public" else f"{schema}.{name}"


def human_bytes(n: float | int | None) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def human_count(n: float | int | None) -> str:
    return "?" if n is None else f"{int(n):,}"
