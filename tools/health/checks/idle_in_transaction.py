"""idle-in-transaction."""

from __future__ import annotations

from typing import Any

from tools.health.checks.activity import activity, duration, seconds, session_label
from tools.health.config import setting_fix
from tools.health.model import Env, Example, Finding, HealthCheck, human_count


class IdleInTransaction(HealthCheck):
    """Fires on a session of this database that has sat idle inside an open transaction for at
    least 60 seconds (PgHero's long-running threshold, applied to idle time), as a warning; and,
    once per run, when 100 or more sessions are idle in transaction at once (PgHero's dashboard).

    In Ecto this is a `Repo.transaction` (or `Ecto.Multi` with `run` steps) that waits on
    something else between its statements: an HTTP call, a GenServer, a slow computation.
    """

    id = "idle-in-transaction"
    title = "Session idle inside a transaction"
    what = "A transaction left open with nothing running in it."
    why = ("It keeps every lock it took, blocking migrations and other writers, and its snapshot stops "
           "vacuum from cleaning up dead rows in every table.")
    threshold = "idle >= 60 s (PgHero long_running_query_sec); >= 100 such sessions (PgHero dashboard)."
    fix = ("Set idle_in_transaction_session_timeout (postgresql.conf, the role, or the repo's `parameters:`) "
           "and keep slow work out of Repo.transaction.")
    examples = [
        Example(fires=True, hold=("UPDATE carts SET total = total + 1 WHERE id = 1",),
                setup="CREATE TABLE carts (id bigint PRIMARY KEY, total int); INSERT INTO carts VALUES (1, 0);",
                thresholds={"idle_in_transaction_s": 0}, severity="warning",
                fix_has=("idle_in_transaction_session_timeout", "pg_terminate_backend")),
        Example(fires=False, setup="CREATE TABLE carts (id bigint PRIMARY KEY);",
                thresholds={"idle_in_transaction_s": 0}, note="no open transaction"),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        return activity(db, "state IN ('idle in transaction', 'idle in transaction (aborted)')")

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        th = env.thresholds
        out = []
        for s in sorted(data, key=lambda r: -seconds(r.get("state_s"))):
            idle = seconds(s.get("state_s"))
            if idle < th.idle_in_transaction_s:
                continue
            fix = setting_fix("idle_in_transaction_session_timeout", "60s", "user")
            fix.action = (f"end it now: SELECT pg_terminate_backend({s['pid']}); then find the Repo.transaction "
                          "that waits on something else between its statements")
            aborted = " (its last statement failed)" if s.get("state", "").endswith("(aborted)") else ""
            out.append(self.finding("warning", f"pid {s['pid']}",
                                    f"{session_label(s)} has been idle in a transaction{aborted} for {duration(idle)} "
                                    f"(the transaction is {duration(seconds(s.get('xact_s')))} old), holding its locks "
                                    "and vacuum's horizon", {
                                        "pid": s["pid"], "role": s.get("role"), "application": s.get("application"),
                                        "idle_s": round(idle, 1), "transaction_s": round(seconds(s.get("xact_s")), 1),
                                        "last_query": s.get("query"), "xmin_age": s.get("xmin_age"),
                                        "source": "PgHero (60 s)"}, fix))
        if len(data) >= th.idle_in_transaction_count:
            fix = setting_fix("idle_in_transaction_session_timeout", "60s", "user")
            out.append(self.finding("warning", "server",
                                    f"{human_count(len(data))} sessions are idle in a transaction at once",
                                    {"sessions": len(data), "source": "PgHero dashboard (>= 100)"}, fix))
        return out
