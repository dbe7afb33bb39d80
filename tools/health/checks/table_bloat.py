"""table-bloat."""

from __future__ import annotations

from typing import Any

from tools.health.bloat import table_bloat
from tools.health.catalog import execute_fix, table_sql
from tools.health.checks.index_bloat import BLOATED_SETUP
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_bytes, human_count, qualified


class TableBloat(HealthCheck):
    """Fires on a table whose estimated wasted space is at least 10 % of it (pg-index-health
    bloated tables) and at least 1 MB (ours). A warning from 100 MB of waste (PgHero's index
    threshold, applied to tables), info below. Dead rows not yet vacuumed count as waste: they
    are, until a vacuum makes their space reusable.

    VACUUM makes space reusable but rarely gives it back; only a rewrite (pg_repack online,
    VACUUM FULL under an ACCESS EXCLUSIVE lock) shrinks the table. The lasting fix is vacuuming
    sooner, so the fix also sets a lower per-table autovacuum scale factor.
    """

    id = "table-bloat"
    title = "Bloated table"
    what = "A table much larger than its live rows need."
    why = ("Sequential scans and the cache pay for every empty byte; the waste comes from updates and "
           "deletes that autovacuum reached too late.")
    threshold = ("Estimated waste >= 10 % (pg-index-health) and >= 1 MB (ours); warning from 100 MB "
                 "(PgHero's index_bloat_bytes, applied to tables).")
    fix = ("Rewrite it online with pg_repack (or VACUUM FULL in a maintenance window), and lower "
           "autovacuum_vacuum_scale_factor for the table with `execute \"ALTER TABLE ... SET (...)\"`.")
    examples = [
        Example(fires=True, setup=BLOATED_SETUP, object="readings", severity="info",
                fix_has=("autovacuum_vacuum_scale_factor = 0.02", "pg_repack")),
        Example(fires=False, setup="""
            CREATE TABLE readings (id bigint NOT NULL, sensor text NOT NULL);
            INSERT INTO readings SELECT g, 'sensor-' || g FROM generate_series(1, 200000) g;
            VACUUM ANALYZE readings;
        """),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        min_pages = max(1, db.env.thresholds.bloat_min_bytes // 8192)
        found, hidden = table_bloat(db, min_pages)
        if hidden:
            db.cannot_read(f"pg_stats for {len(hidden)} table(s) ({', '.join(hidden[:5])}"
                           f"{', ...' if len(hidden) > 5 else ''}), so their bloat was not estimated",
                           "pg_stats shows only columns this role may SELECT: GRANT SELECT on them, "
                           "or run as the tables' owner")
        return found

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        th = env.thresholds
        out = []
        for t in data:
            est = t["estimate"]
            if est.ratio < th.bloat_min_ratio or est.wasted_bytes < th.bloat_min_bytes:
                continue
            name = qualified(t["schema"], t["table"])
            severity = "warning" if est.wasted_bytes >= th.bloat_warn_bytes else "info"
            size = human_bytes(t["pages"] * est.block_size)
            message = (f"{name} is about {est.ratio:.0%} bloat: {size} where its {human_count(t['rows'])} live rows "
                       f"need about {human_bytes(est.expected_pages * est.block_size)}")
            if t.get("dead_rows"):
                message += f"; {human_count(t['dead_rows'])} dead rows wait for a vacuum"
            target = table_sql(t["schema"], t["table"])
            settings = "autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000"
            ecto = execute_fix(f"tune_autovacuum_{t['table']}", f"ALTER TABLE {target} SET ({settings})",
                               f"ALTER TABLE {target} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold)",
                               comment=f"Vacuum {t['table']} after 2 % of its rows change instead of 20 %,\n"
                                       "so freed space is reused before the table grows.")
            fix = HealthFix(
                ecto=ecto, sql=f"ALTER TABLE {target} SET ({settings});",
                action=(f"to give the space back: pg_repack --table={target} (online), or VACUUM FULL {target} "
                        "(locks the table while it rewrites it)"))
            out.append(self.finding(severity, name, message, {
                "size": size, "expected": human_bytes(est.expected_pages * est.block_size),
                "wasted": human_bytes(est.wasted_bytes), "wasted_bytes": est.wasted_bytes,
                "bloat_ratio": round(est.ratio, 3), "live_rows": int(t["rows"]), "dead_rows": t.get("dead_rows"),
                "avg_row_width": round(t["row_width"], 1), "last_autovacuum": str(t.get("last_autovacuum") or "never"),
                "method": "estimate from pg_stats widths (see tools/health/bloat.py)"}, fix))
        return out
