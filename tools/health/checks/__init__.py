"""The health checks, one module each, in the order a report lists them when severities tie:
indexes first (the most common fixes), then tables, the server's state right now, statistics,
and configuration."""

from __future__ import annotations

from tools.health.checks.autovacuum import Autovacuum
from tools.health.checks.blocking_locks import BlockingLocks
from tools.health.checks.cache_hit import CacheHit
from tools.health.checks.config import Config
from tools.health.checks.duplicate_index import DuplicateIndex
from tools.health.checks.fk_without_index import FkWithoutIndex
from tools.health.checks.idle_in_transaction import IdleInTransaction
from tools.health.checks.index_bloat import IndexBloat
from tools.health.checks.invalid_index import InvalidIndex
from tools.health.checks.json_column import JsonColumn
from tools.health.checks.long_running import LongRunning
from tools.health.checks.pg_stat_statements_missing import PgStatStatementsMissing
from tools.health.checks.pool_size import PoolSize
from tools.health.checks.seq_scan_heavy import SeqScanHeavy
from tools.health.checks.sequence_overflow import SequenceOverflow
from tools.health.checks.stale_stats import StaleStats
from tools.health.checks.table_bloat import TableBloat
from tools.health.checks.table_without_pk import TableWithoutPk
from tools.health.checks.unused_index import UnusedIndex
from tools.health.checks.xid_wraparound import XidWraparound
from tools.health.model import HealthCheck

CHECKS: list[HealthCheck] = [
    UnusedIndex(),
    DuplicateIndex(),
    InvalidIndex(),
    FkWithoutIndex(),
    TableWithoutPk(),
    IndexBloat(),
    TableBloat(),
    CacheHit(),
    SequenceOverflow(),
    XidWraparound(),
    Autovacuum(),
    LongRunning(),
    IdleInTransaction(),
    BlockingLocks(),
    SeqScanHeavy(),
    JsonColumn(),
    StaleStats(),
    PgStatStatementsMissing(),
    Config(),
    PoolSize(),
]


def check(check_id: str) -> HealthCheck:
    for c in CHECKS:
        if c.id == check_id:
            return c
    raise KeyError(check_id)


def catalogue() -> list[dict[str, str]]:
    return [c.doc() for c in CHECKS]
