"""blocking-locks."""

from __future__ import annotations

from typing import Any

from tools.health.checks.activity import HIDDEN_QUERY, duration, seconds, session_label
from tools.health.config import setting_fix
from tools.health.model import Env, Example, Finding, HealthCheck

LOCK_SETUP = "CREATE TABLE carts (id bigint PRIMARY KEY, total int); INSERT INTO carts VALUES (1, 0);"


class BlockingLocks(HealthCheck):
    """Fires on each session of this database waiting for a lock another session holds
    (PgHero blocked queries, from pg_blocking_pids), naming the blocker, what it is doing and
    the lock. A warning from 5 seconds of waiting (ours: shorter waits are ordinary row-lock
    queues), info below.

    The usual Ecto shapes: a migration's ALTER TABLE queued behind a long transaction (and every
    query queued behind the migration), or two requests updating the same row inside transactions.
    """

    id = "blocking-locks"
    title = "Session blocked by another's lock"
    what = "A statement waiting for a lock held by another session."
    why = ("A blocked statement does nothing while it waits, and locks queue: one ACCESS EXCLUSIVE "
           "request behind a long transaction stops every later query on the table.")
    threshold = "any blocked session (PgHero); warning from 5 s of waiting (ours)."
    fix = ("End or shorten the blocking transaction; set lock_timeout so that DDL gives up instead of "
           "queueing the whole app behind it.")
    examples = [
        Example(fires=True, setup=LOCK_SETUP, hold=("UPDATE carts SET total = 1 WHERE id = 1",),
                wait=("UPDATE carts SET total = 2 WHERE id = 1",), fix_has=("lock_timeout",)),
        Example(fires=False, setup=LOCK_SETUP, hold=("UPDATE carts SET total = 1 WHERE id = 1",)),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        rows = db.rows("""
            SELECT a.pid, a.application_name AS application, a.usename AS role, left(a.query, 500) AS query,
                   extract(epoch FROM now() - coalesce(a.query_start, a.state_change)) AS waiting_s,
                   a.wait_event_type, a.wait_event, pg_blocking_pids(a.pid) AS blockers,
                   (SELECT l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype)
                      FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) AS wants
            FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
              AND a.wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(a.pid)) > 0""")
        pids = sorted({p for r in rows for p in r["blockers"]})
        blockers = {b["pid"]: b for b in db.rows("""
            SELECT pid, application_name AS application, state, left(query, 500) AS query,
                   extract(epoch FROM now() - xact_start) AS xact_s
            FROM pg_stat_activity WHERE pid = ANY(%s)""", (pids,))} if pids else {}
        if not db.sees_all_stats:
            hidden = db.one("SELECT count(*) AS n FROM pg_stat_activity WHERE query = %s", (HIDDEN_QUERY,))
            if hidden and hidden["n"]:
                db.cannot_read("the locks and queries of other roles' sessions",
                               f"pg_stat_activity hides {hidden['n']} session(s) from roles outside pg_read_all_stats: "
                               "GRANT pg_monitor TO <role>")
        return [{**r, "blocked_by": [blockers.get(p, {"pid": p}) for p in r["blockers"]]} for r in rows]

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        out = []
        for w in sorted(data, key=lambda r: -seconds(r.get("waiting_s"))):
            waited = seconds(w.get("waiting_s"))
            severity = "warning" if waited >= env.thresholds.blocked_warn_s else "info"
            first = w["blocked_by"][0]
            what = f" ({first.get('state')}, transaction {duration(seconds(first.get('xact_s')))} old)" \
                if first.get("state") else ""
            fix = setting_fix("lock_timeout", "10s", "user")
            fix.action = (f"if the blocker is stuck, end it: SELECT pg_terminate_backend({first['pid']}); "
                          "and keep transactions short so locks are released quickly")
            out.append(self.finding(severity, f"pid {w['pid']}",
                                    f"{session_label(w)} has waited {duration(waited)} for "
                                    f"{w.get('wants') or 'a lock'} held by {session_label(first)}{what}", {
                                        "waiting_pid": w["pid"], "waiting_query": w.get("query"),
                                        "wants": w.get("wants"), "waiting_s": round(waited, 1),
                                        "blocked_by": [{"pid": b.get("pid"), "state": b.get("state"),
                                                        "query": b.get("query"),
                                                        "transaction_s": round(seconds(b.get("xact_s")), 1)}
                                                       for b in w["blocked_by"]],
                                        "source": "PgHero blocked queries (pg_blocking_pids)"}, fix))
        return out
