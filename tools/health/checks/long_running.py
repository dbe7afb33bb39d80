"""long-running."""

from __future__ import annotations

from typing import Any

from tools.health.checks.activity import activity, duration, seconds, session_label
from tools.health.config import setting_fix
from tools.health.model import Env, Example, Finding, HealthCheck


class LongRunning(HealthCheck):
    """Fires on a client session of this database whose current statement has been running for
    at least 60 seconds (PgHero long_running_query_sec), as a warning. Sessions idle in a
    transaction are idle-in-transaction's; autovacuum and other background workers are left out.

    Ecto gives up on a query after its :timeout (15 s by default) and drops the connection, but
    without a statement_timeout the server keeps running the query: such orphans show up here.
    """

    id = "long-running"
    title = "Long-running query"
    what = "A statement that has been running for a long time."
    why = ("It holds locks and a snapshot (which stops vacuum from removing dead rows everywhere), "
           "and in a web app no one is waiting for its answer any more.")
    threshold = "running >= 60 s (PgHero long_running_query_sec)."
    fix = ("Cancel it (pg_cancel_backend), find out why it is slow (explain), and set statement_timeout "
           "for the app's role or in the repo's `parameters:`.")
    examples = [
        Example(fires=True, wait=("SELECT pg_sleep(30)",), thresholds={"long_running_s": 0.5},
                severity="warning", fix_has=("pg_cancel_backend", "statement_timeout")),
        Example(fires=False, hold=("SELECT 1",), thresholds={"long_running_s": 0.5},
                note="idle in transaction is not running"),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        return activity(db, "state IN ('active', 'fastpath function call') AND backend_type = 'client backend'")

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        limit = env.thresholds.long_running_s
        out = []
        for s in sorted(data, key=lambda r: -seconds(r.get("query_s"))):
            running = seconds(s.get("query_s"))
            if running < limit:
                continue
            fix = setting_fix("statement_timeout", "15s", "user")
            fix.action = (f"stop it now: SELECT pg_cancel_backend({s['pid']});  "
                          "-- pg_terminate_backend if that is not enough")
            message = (f"{session_label(s)} has been running one statement for {duration(running)}"
                       + (f" (waiting on {s['wait_event_type']}: {s['wait_event']})" if s.get("wait_event_type") else ""))
            out.append(self.finding("warning", f"pid {s['pid']}", message, {
                "pid": s["pid"], "role": s.get("role"), "application": s.get("application"),
                "running_s": round(running, 1), "transaction_s": round(seconds(s.get("xact_s")), 1),
                "query": s.get("query"), "source": "PgHero long_running_query_sec (60 s)"}, fix))
        return out
