"""unused-index."""

from __future__ import annotations

from typing import Any

from tools.health.catalog import IndexInfo, drop_index_fix, indexes
from tools.health.checks.activity import duration
from tools.health.model import Env, Example, Finding, HealthCheck, human_bytes, human_count


# Ours: a week covers the weekly jobs and reports that may be an index's only users.
RECENT_S = 7 * 24 * 3600


class UnusedIndex(HealthCheck):
    """Fires on a valid index with fewer than 50 scans since statistics were reset, at least 1 MB
    in size, that is not unique, does not back a primary-key, unique or exclusion constraint, and
    is not the index a foreign key's lookups use (pg-index-health excludes those: dropping one
    makes every delete of a parent row scan the child table). A warning from 10 MB with no scan
    at all (PgHero's dashboard), else info.

    idx_scan counts this server only and restarts at a statistics reset: the evidence gives the
    reset time, and the message asks to check replicas before dropping.
    """

    id = "unused-index"
    title = "Index that queries do not use"
    what = "An index that has (almost) never been scanned since statistics were reset."
    why = ("Every insert and every non-HOT update writes to every index, so an unused index slows "
           "writes, bloats WAL and backups, and takes shared_buffers from the indexes that are used.")
    threshold = ("idx_scan < 50 (pg-index-health, ecto_psql_extras min_scans) and size >= 1 MB (ecto_psql_extras "
                 "diagnose); warning when never scanned and >= 10 MB (PgHero).")
    fix = "Drop it concurrently in its own migration (@disable_ddl_transaction and @disable_migration_lock)."
    examples = [
        Example(
            fires=True, object="events_reference_index", severity="info",
            setup="""
                CREATE TABLE events (id bigserial PRIMARY KEY, reference text NOT NULL, account_id bigint NOT NULL);
                INSERT INTO events (reference, account_id) SELECT 'ref-' || g, g % 500 FROM generate_series(1, 60000) g;
                CREATE INDEX events_reference_index ON events (reference);
                ANALYZE events;
            """,
            fix_has=("drop index(:events, [:reference], concurrently: true)", "@disable_migration_lock true",
                     "DROP INDEX CONCURRENTLY IF EXISTS events_reference_index"),
        ),
        Example(
            fires=False, note="a unique index enforces a rule even if no query reads it",
            setup="""
                CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);
                INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 60000) g;
                CREATE UNIQUE INDEX users_email_index ON users (email);
            """,
        ),
        Example(
            fires=False, note="the index behind a foreign key serves the parent's deletes",
            setup="""
                CREATE TABLE accounts (id bigserial PRIMARY KEY);
                INSERT INTO accounts SELECT FROM generate_series(1, 60000);
                CREATE TABLE invoices (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts);
                INSERT INTO invoices (account_id) SELECT g FROM generate_series(1, 60000) g;
                CREATE INDEX invoices_account_id_index ON invoices (account_id);
            """,
        ),
    ]

    def collect(self, db) -> dict[str, Any]:
        th = db.env.thresholds
        candidates = indexes(db, "x.indisvalid AND NOT x.indisunique AND NOT x.indisprimary AND NOT x.indisexclusion "
                                 "AND coalesce(s.idx_scan, 0) < %(scans)s AND pg_relation_size(x.indexrelid) >= %(bytes)s",
                             {"scans": th.unused_index_max_scans, "bytes": th.unused_index_min_bytes})
        fks = db.rows("""SELECT conrelid AS table_oid, conkey::int2[] AS cols FROM pg_constraint
                         WHERE contype = 'f'""") if candidates else []
        reset = db.one("""SELECT stats_reset,
                                 extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time())) AS age
                          FROM pg_stat_database WHERE datname = current_database()""") or {}
        return {"indexes": candidates, "fks": fks, "stats_reset": reset.get("stats_reset"),
                "stats_age": reset.get("age")}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        th = env.thresholds
        out = []
        fk_cols = [(fk["table_oid"], sorted(fk["cols"])) for fk in data["fks"]]
        for idx in data["indexes"]:
            if idx.constraint_type or backs_foreign_key(idx, fk_cols):
                continue
            recent = data.get("stats_age") is not None and float(data["stats_age"]) < RECENT_S
            severity = "warning" if idx.scans == 0 and idx.bytes >= th.unused_index_warn_bytes and not recent \
                else "info"
            # PostgreSQL 15 keeps statistics across clean restarts, so without a reset the count
            # may be older than the server's uptime: that uptime is a lower bound.
            since = f" since {data['stats_reset']:%Y-%m-%d}" if data.get("stats_reset") else \
                " since statistics began (no reset recorded)"
            if recent:
                since += f" (counted over only {duration(float(data['stats_age']))}: too soon to call it unused)"
            out.append(self.finding(
                severity, idx.qualified_name,
                f"{idx.name} on {idx.qualified_table} was scanned {human_count(idx.scans)} times{since} and "
                f"takes {human_bytes(idx.bytes)}; every write to {idx.table} still maintains it. "
                "idx_scan counts this server only: check replicas before dropping",
                {"definition": idx.definition, "idx_scan": idx.scans, "size": human_bytes(idx.bytes),
                 "size_bytes": idx.bytes, "stats_reset": str(data.get("stats_reset") or "never"),
                 "counted_over": duration(float(data["stats_age"])) if data.get("stats_age") is not None else "?"},
                drop_index_fix(idx, comment=f"{idx.name}: {idx.scans} scans since the statistics reset")))
        return out


def backs_foreign_key(idx: IndexInfo, fk_cols: list[tuple[int, list[int]]]) -> bool:
    """The index's leading columns are exactly a foreign key's columns, in any order."""
    if idx.predicate:
        return False
    for table_oid, cols in fk_cols:
        if table_oid == idx.table_oid and sorted(idx.key_attnums[: len(cols)]) == cols:
            return True
    return False
