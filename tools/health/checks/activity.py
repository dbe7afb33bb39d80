"""What the activity checks share: pg_stat_activity for this database, minus ourselves."""

from __future__ import annotations

from typing import Any

HIDDEN_QUERY = "<insufficient privilege>"

ACTIVITY_SQL = """
SELECT pid, usename AS role, application_name AS application, client_addr::text AS client, state, backend_type,
       wait_event_type, wait_event, left(query, 500) AS query, backend_xmin IS NOT NULL AS holds_xmin,
       age(backend_xmin) AS xmin_age,
       extract(epoch FROM now() - xact_start) AS xact_s,
       extract(epoch FROM now() - query_start) AS query_s,
       extract(epoch FROM now() - state_change) AS state_s
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def activity(db, where: str) -> list[dict[str, Any]]:
    rows = db.rows(ACTIVITY_SQL + f" AND ({where})")
    if not db.sees_all_stats:
        # Other roles' sessions show no database, state or query at all, so they cannot even be
        # attributed to this database: count them and say so.
        hidden = db.one("SELECT count(*) AS n FROM pg_stat_activity WHERE query = %s", (HIDDEN_QUERY,))
        if hidden and hidden["n"]:
            db.cannot_read("the state and query of other roles' sessions",
                           f"pg_stat_activity hides {hidden['n']} session(s) from roles outside pg_read_all_stats: "
                           "GRANT pg_monitor TO <role>")
    return rows


def session_label(row: dict[str, Any]) -> str:
    app = f" ({row['application']})" if row.get("application") else ""
    return f"pid {row['pid']}{app}"


def seconds(value: Any) -> float:
    return float(value) if value is not None else 0.0


def duration(s: float) -> str:
    s = float(s)
    if s < 120:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"
