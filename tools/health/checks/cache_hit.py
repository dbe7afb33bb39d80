"""cache-hit."""

from __future__ import annotations

from typing import Any

from tools.health.config import conf_memory, setting_fix
from tools.health.model import Env, Example, Finding, HealthCheck, human_count


class CacheHit(HealthCheck):
    """Fires when the share of table (or index) block reads served from shared_buffers is below
    99 % (PgHero's "good"), as a warning below 98.5 % (ecto_psql_extras diagnose), counted over
    pg_statio_user_tables / pg_statio_user_indexes since the statistics reset. Below 10,000 block
    reads (ours) the ratio says nothing yet and the check stays quiet.

    A "read" is a block PostgreSQL did not have in shared_buffers; the OS page cache may still
    have served it, so a low rate is a hint to look, not proof of disk reads.
    """

    id = "cache-hit"
    title = "Low cache hit rate"
    what = "Too many table or index blocks read from outside shared_buffers."
    why = ("A working set that does not fit in memory turns every cache miss into I/O: queries that "
           "are fast in development get slow and erratic in production.")
    threshold = "hit rate < 99 % (PgHero), warning < 98.5 % (ecto_psql_extras diagnose); >= 10,000 reads (ours)."
    fix = ("Give shared_buffers a quarter of the RAM (PGTune); if it already has, shrink the working set: "
           "the seq-scan-heavy tables listed in the evidence are the usual cause.")
    examples = [
        Example(fires=True, severity="warning", object="table reads", data={
            "tables": {"hit": 9_000_000, "read": 400_000},
            "indexes": {"hit": 50_000_000, "read": 10_000},
            "top_tables": [{"table": "events", "read": 350_000}],
            "shared_buffers": 128 << 20}, fix_has=("shared_buffers",)),
        Example(fires=False, note="99.9 %", data={
            "tables": {"hit": 9_990_000, "read": 10_000}, "indexes": {"hit": 1_000_000, "read": 100},
            "top_tables": [], "shared_buffers": 128 << 20}),
        Example(fires=False, note="too few reads to judge", data={
            "tables": {"hit": 10, "read": 900}, "indexes": {"hit": 0, "read": 0},
            "top_tables": [], "shared_buffers": 128 << 20}),
    ]

    def collect(self, db) -> dict[str, Any]:
        t = db.one("SELECT coalesce(sum(heap_blks_hit), 0) AS hit, coalesce(sum(heap_blks_read), 0) AS read "
                   "FROM pg_statio_user_tables")
        i = db.one("SELECT coalesce(sum(idx_blks_hit), 0) AS hit, coalesce(sum(idx_blks_read), 0) AS read "
                   "FROM pg_statio_user_indexes")
        top = db.rows("""SELECT CASE WHEN schemaname = 'public' THEN relname ELSE schemaname || '.' || relname END
                                AS table, heap_blks_read AS read
                         FROM pg_statio_user_tables WHERE heap_blks_read > 0 ORDER BY heap_blks_read DESC LIMIT 3""")
        return {"tables": t, "indexes": i, "top_tables": top, "shared_buffers": db.env.setting_bytes("shared_buffers")}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        th = env.thresholds
        out = []
        for kind, key in (("table", "tables"), ("index", "indexes")):
            hit, read = int(data[key]["hit"]), int(data[key]["read"])
            if hit + read < th.cache_hit_min_blocks:
                continue
            rate = hit / (hit + read)
            if rate >= th.cache_hit_good:
                continue
            severity = "warning" if rate < th.cache_hit_bad else "info"
            machine = env.machine
            if machine is not None and getattr(machine, "memory_bytes", None):
                suggested = conf_memory(machine.memory_bytes // 4)
                fix = setting_fix("shared_buffers", suggested, "postmaster")
            else:
                fix = setting_fix("shared_buffers", None, "postmaster")
            sb = data.get("shared_buffers")
            fix.action = ((fix.action + "; ") if fix.action else "") + (
                "if shared_buffers is already a quarter of the RAM, the working set is larger than memory: "
                "look at seq-scan-heavy and the tables below first")
            out.append(self.finding(
                severity, f"{kind} reads",
                f"{rate:.2%} of {kind} block reads came from shared_buffers "
                f"({human_count(read)} of {human_count(hit + read)} had to be read in); "
                f"healthy is at least {th.cache_hit_good:.0%}",
                {"hit_rate": round(rate, 5), "blocks_hit": hit, "blocks_read": read,
                 "shared_buffers": conf_memory(sb) if sb else "?",
                 "most_read_tables": [f"{r['table']}: {human_count(r['read'])} blocks" for r in data["top_tables"]],
                 "source": "PgHero (good >= 99 %), ecto_psql_extras diagnose (>= 98.5 %)"}, fix))
        return out
