"""index-bloat."""

from __future__ import annotations

from typing import Any

from tools.health.bloat import Estimate, index_bloat
from tools.health.catalog import IndexInfo, reindex_fix
from tools.health.model import Env, Example, Finding, HealthCheck, human_bytes

BLOATED_SETUP = """
    CREATE TABLE readings (id bigint NOT NULL, sensor text NOT NULL) WITH (autovacuum_enabled = false);
    INSERT INTO readings SELECT g, 'sensor-' || g FROM generate_series(1, 200000) g;
    CREATE INDEX readings_id_index ON readings (id);
    DELETE FROM readings WHERE id % 10 <> 0;
    VACUUM readings;
    ANALYZE readings;
"""


class IndexBloat(HealthCheck):
    """Fires on a btree index whose estimated wasted space is at least 10 % of it
    (pg-index-health bloated indexes) and at least 1 MB (ours, so small indexes stay quiet).
    A warning from 100 MB of waste (PgHero index_bloat_bytes), info below.

    The estimate (tools/health/bloat.py) needs pg_stats for the index's columns: tables the role
    may not SELECT are listed as not read. B-trees filled in random key order sit around 70 %
    full by nature, so expect a modest estimate on those even right after a REINDEX.
    """

    id = "index-bloat"
    title = "Bloated index"
    what = "A btree index much larger than its live entries need."
    why = ("B-tree pages emptied by deletes and updates are rarely returned: scans read more pages, "
           "the cache holds fewer useful ones, and the index grows for nothing.")
    threshold = ("Estimated waste >= 10 % (pg-index-health) and >= 1 MB (ours); warning from 100 MB "
                 "(PgHero index_bloat_bytes).")
    fix = ("REINDEX INDEX CONCURRENTLY (PostgreSQL 12+), by hand or in a migration with "
           "@disable_ddl_transaction and @disable_migration_lock.")
    examples = [
        Example(fires=True, setup=BLOATED_SETUP, object="readings_id_index", severity="info",
                fix_has=("REINDEX INDEX CONCURRENTLY readings_id_index", "@disable_ddl_transaction true")),
        Example(fires=False, setup="""
            CREATE TABLE readings (id bigint NOT NULL, sensor text NOT NULL);
            INSERT INTO readings SELECT g, 'sensor-' || g FROM generate_series(1, 200000) g;
            CREATE INDEX readings_id_index ON readings (id);
            VACUUM ANALYZE readings;
        """),
    ]

    def collect(self, db) -> list[tuple[IndexInfo, Estimate]]:
        min_pages = max(1, db.env.thresholds.bloat_min_bytes // 8192)
        found, hidden = index_bloat(db, min_pages)
        if hidden:
            db.cannot_read(f"pg_stats for {len(hidden)} table(s) ({', '.join(hidden[:5])}"
                           f"{', ...' if len(hidden) > 5 else ''}), so their index bloat was not estimated",
                           "pg_stats shows only columns this role may SELECT: GRANT SELECT on them, "
                           "or run as the tables' owner")
        return found

    def evaluate(self, data: list[tuple[IndexInfo, Estimate]], env: Env) -> list[Finding]:
        th = env.thresholds
        out = []
        for idx, est in data:
            if est.ratio < th.bloat_min_ratio or est.wasted_bytes < th.bloat_min_bytes:
                continue
            severity = "warning" if est.wasted_bytes >= th.bloat_warn_bytes else "info"
            message = (f"{idx.name} on {idx.qualified_table} is about {est.ratio:.0%} bloat: "
                       f"{human_bytes(idx.pages * est.block_size)} where its live entries need about "
                       f"{human_bytes(est.expected_pages * est.block_size)}")
            evidence: dict[str, Any] = {
                "size": human_bytes(idx.pages * est.block_size), "expected": human_bytes(est.expected_pages * est.block_size),
                "wasted": human_bytes(est.wasted_bytes), "wasted_bytes": est.wasted_bytes,
                "bloat_ratio": round(est.ratio, 3), "rows": int(idx.index_tuples), "definition": idx.definition,
                "method": "estimate from pg_stats widths (see tools/health/bloat.py)",
            }
            out.append(self.finding(severity, idx.qualified_name, message, evidence,
                                    reindex_fix(idx, comment=f"{idx.name}: about {human_bytes(est.wasted_bytes)} of "
                                                             "empty space")))
        return out

