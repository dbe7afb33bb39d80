from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import MaintenanceAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text

_WHAT = {
    "vacuum_full": ("VACUUM FULL rewrites the table", "ACCESS EXCLUSIVE", "pg_repack"),
    "cluster": ("CLUSTER rewrites the table", "ACCESS EXCLUSIVE", "pg_repack"),
    "set_tablespace": ("SET TABLESPACE copies the table", "ACCESS EXCLUSIVE", "pg_repack --tablespace"),
    "set_logged": ("SET LOGGED rewrites the table", "ACCESS EXCLUSIVE", "a maintenance window"),
    "set_unlogged": ("SET UNLOGGED rewrites the table", "ACCESS EXCLUSIVE", "a maintenance window"),
    "set_access_method": ("SET ACCESS METHOD rewrites the table", "ACCESS EXCLUSIVE", "a maintenance window"),
    "reindex": ("REINDEX without CONCURRENTLY rebuilds under lock", "SHARE", "REINDEX … CONCURRENTLY"),
    "refresh_matview": ("REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view",
                        "ACCESS EXCLUSIVE", "REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index)"),
    "detach_partition": ("DETACH PARTITION without CONCURRENTLY locks the parent", "ACCESS EXCLUSIVE",
                         "DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+)"),
    "lock_table": ("LOCK TABLE", "", "no explicit lock, or a short lock_timeout"),
}


class BlockingMaintenance(Rule):
    """Fires on maintenance commands in execute that lock a table outright: VACUUM FULL,
    CLUSTER, REINDEX and REFRESH MATERIALIZED VIEW and DETACH PARTITION without CONCURRENTLY,
    SET TABLESPACE / LOGGED / UNLOGGED / ACCESS METHOD (rewrites), and explicit LOCK TABLE
    (a `warning`: it may be deliberate)."""

    id = "blocking-maintenance"
    title = "Maintenance command that locks a table"
    severity = "error"
    lock = "ACCESS EXCLUSIVE (SHARE for REINDEX) on the table for the whole command"
    catches = "`execute \"VACUUM FULL events\"`, `execute \"REINDEX TABLE events\"`."
    why = "These commands rewrite or rebuild while holding a lock that stops the application from using the table."
    safe = """
        @disable_ddl_transaction true
        @disable_migration_lock true

        def up do
          execute "REINDEX INDEX CONCURRENTLY events_account_id_index"
        end
    """
    also_in = "squawk prefer-repack, require-concurrent-reindex, require-concurrent-partition-detach"
    examples = [
        Example('def up do\n  execute "VACUUM FULL events"\nend', fires=True),
        Example('def up do\n  execute "REFRESH MATERIALIZED VIEW daily_stats"\nend', fires=True),
        Example('@disable_ddl_transaction true\n@disable_migration_lock true\n\n'
                'def up do\n  execute "REINDEX INDEX CONCURRENTLY events_pkey"\nend', fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(MaintenanceAct):
            if act.concurrently or act.kind not in _WHAT:
                continue
            what, mode, instead = _WHAT[act.kind]
            severity = "warning" if act.kind == "lock_table" else None
            mode = mode or act.detail or "the requested lock"
            yield self.finding(
                ctx, act, f"{what} on {act.table or 'the relation'}: use {instead}",
                lock=lock_text(mode, act.table), severity=severity, fix=f"# {instead}")
