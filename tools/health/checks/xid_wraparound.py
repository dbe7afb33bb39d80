"""xid-wraparound."""

from __future__ import annotations

from typing import Any

from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_count

XID_LIMIT = 2_146_483_648  # 2^31 minus the million PostgreSQL keeps in reserve (PgHero's constant)


class XidWraparound(HealthCheck):
    """Fires when the oldest unfrozen transaction ID of this database is within 1.5 billion of
    the wraparound limit (PgHero's dashboard threshold: an age above about 646 million), as an
    error within 10 million (PgHero's method default). The age is the greater of each table's
    and its TOAST table's relfrozenxid age; the evidence names the oldest tables and what holds
    the horizon back (long transactions, prepared transactions, replication slots).

    Anti-wraparound vacuums start at autovacuum_freeze_max_age (200 million by default), so an
    age far above that means they are not finishing.
    """

    id = "xid-wraparound"
    title = "Transaction ID wraparound approaching"
    what = "Tables whose oldest unfrozen transaction ID is approaching the 2-billion wraparound limit."
    why = ("At the limit PostgreSQL stops accepting writes until a VACUUM freezes the old rows: a "
           "full outage that a single-user-mode vacuum of a large table ends hours later.")
    threshold = "remaining < 1.5 B (PgHero dashboard, age > ~646 M): warning; remaining < 10 M (PgHero): error."
    fix = ("VACUUM (FREEZE) the oldest tables now, and end what blocks freezing: long-running or idle "
           "transactions, abandoned prepared transactions or replication slots.")
    examples = [
        Example(fires=True, severity="warning", object="events", data={
            "tables": [{"table": "events", "age": 700_000_000}, {"table": "users", "age": 300_000_000}],
            "holders": [{"kind": "replication slot", "name": "old_replica", "age": 690_000_000}]},
            settings={"autovacuum_freeze_max_age": ("200000000", None)}, fix_has=("VACUUM (FREEZE, VERBOSE) events",)),
        Example(fires=True, severity="error", object="events", data={
            "tables": [{"table": "events", "age": 2_140_000_000}], "holders": []}),
        Example(fires=False, data={"tables": [{"table": "events", "age": 180_000_000}], "holders": []}),
    ]

    def collect(self, db) -> dict[str, Any]:
        tables = db.rows("""
            SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS table,
                   greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0)) AS age
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
            WHERE c.relkind IN ('r', 'm')
            ORDER BY 2 DESC LIMIT 5""")
        holders = db.rows("""
            SELECT 'session' AS kind, pid::text || coalesce(' (' || nullif(application_name, '') || ')', '') AS name,
                   age(backend_xmin) AS age
            FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()
            UNION ALL
            SELECT 'prepared transaction', gid, age(transaction) FROM pg_prepared_xacts
            UNION ALL
            SELECT 'replication slot', slot_name, age(xmin) FROM pg_replication_slots WHERE xmin IS NOT NULL
            ORDER BY 3 DESC LIMIT 5""")
        return {"tables": tables, "holders": holders}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        th = env.thresholds
        if not data["tables"]:
            return []
        oldest = data["tables"][0]
        remaining = XID_LIMIT - int(oldest["age"])
        if remaining >= th.xid_remaining_warn:
            return []
        severity = "error" if remaining < th.xid_remaining_error else "warning"
        freeze_max = env.setting_float("autovacuum_freeze_max_age") or 200_000_000
        message = (f"{oldest['table']} has transaction IDs {human_count(oldest['age'])} old: "
                   f"{human_count(remaining)} remain before PostgreSQL stops accepting writes "
                   f"(anti-wraparound vacuums should have run from {human_count(freeze_max)})")
        holders = [f"{h['kind']} {h['name']}: xmin age {human_count(h['age'])}" for h in data["holders"]
                   if h.get("age") and h["age"] > freeze_max]
        if holders:
            message += "; something holds the horizon back: " + "; ".join(holders[:2])
        tables = ", ".join(t["table"] for t in data["tables"][:3])
        fix = HealthFix(
            sql="\n".join(f"VACUUM (FREEZE, VERBOSE) {t['table']};" for t in data["tables"][:3]),
            action=("first end what holds the horizon back (SELECT pg_terminate_backend(pid) for an idle "
                    "transaction, ROLLBACK PREPARED 'gid', SELECT pg_drop_replication_slot('name')), then vacuum "
                    f"{tables}; a plain VACUUM does not need a lock that blocks the app"))
        return [self.finding(severity, oldest["table"], message, {
            "oldest_tables": [f"{t['table']}: {human_count(t['age'])}" for t in data["tables"]],
            "remaining": remaining, "autovacuum_freeze_max_age": int(freeze_max), "horizon_holders": holders,
            "source": "PgHero (2146483648 - age; dashboard 1.5 B, danger 10 M)"}, fix)]
