"""seq-scan-heavy."""

from __future__ import annotations

import re
from typing import Any

from tools.health.catalog import USER_SCHEMA
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_count, qualified

SEQ_SETUP = """
    CREATE TABLE tickets (id bigserial PRIMARY KEY, status text NOT NULL, customer_id bigint NOT NULL);
    INSERT INTO tickets (status, customer_id) SELECT 'open', g % 3000 FROM generate_series(1, 20000) g;
    ANALYZE tickets;
    DO $$ BEGIN FOR i IN 1..120 LOOP PERFORM count(*) FROM tickets WHERE customer_id = i; END LOOP; END $$;
"""


class SeqScanHeavy(HealthCheck):
    """Fires on a table of at least 10,000 live rows (PgHero) scanned more than 100 times
    (pg-index-health tables_with_missing_indexes: seq_scan + idx_scan > 100) where index scans
    are under 95 % of its scans (PgHero missing indexes), as a warning when more sequential than
    index scans (pg-index-health's seq_scan - idx_scan > 0), info otherwise.

    The table-level counters cannot say which query scans it, so the evidence lists the
    statements in pg_stat_statements that name the table, by total time: explain those.
    """

    id = "seq-scan-heavy"
    title = "Large table read mostly by sequential scans"
    what = "A large table that queries read by sequential scan far more than by index."
    why = ("A sequential scan reads every row for every query: cost grows with the table, not with the "
           "answer, and it pushes useful pages out of the cache.")
    threshold = ("n_live_tup >= 10,000 (PgHero), seq_scan + idx_scan > 100 (pg-index-health), index share < 95 % "
                 "(PgHero); warning when seq_scan > idx_scan (pg-index-health).")
    fix = "Explain the queries that scan it (listed in the evidence) and add the index they need."
    examples = [
        Example(fires=True, setup=SEQ_SETUP, object="tickets", severity="warning", fix_has=("explain",)),
        Example(fires=False, setup="""
            CREATE TABLE tickets (id bigserial PRIMARY KEY, customer_id bigint NOT NULL);
            INSERT INTO tickets (customer_id) SELECT g % 3000 FROM generate_series(1, 20000) g;
            CREATE INDEX tickets_customer_id_index ON tickets (customer_id);
            ANALYZE tickets;
            DO $$ BEGIN FOR i IN 1..120 LOOP PERFORM count(*) FROM tickets WHERE customer_id = i; END LOOP; END $$;
        """),
    ]

    def collect(self, db) -> dict[str, Any]:
        th = db.env.thresholds
        tables = db.rows(f"""
            SELECT n.nspname AS schema, c.relname AS table, st.seq_scan, coalesce(st.idx_scan, 0) AS idx_scan,
                   st.seq_tup_read, st.n_live_tup
            FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {USER_SCHEMA} AND st.n_live_tup >= %(rows)s AND st.seq_scan + coalesce(st.idx_scan, 0) > %(scans)s
              AND coalesce(st.idx_scan, 0) < %(share)s * (st.seq_scan + coalesce(st.idx_scan, 0))
            ORDER BY st.seq_tup_read DESC""",
            {"rows": th.seq_scan_min_rows, "scans": th.seq_scan_min_scans, "share": th.seq_scan_max_index_share})
        statements = []
        if tables:
            statements = db.try_rows("""
                SELECT query, calls, total_exec_time AS total_ms, rows FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY total_exec_time DESC LIMIT 300""",
                what="pg_stat_statements, to name the queries that scan these tables") or []
        return {"tables": tables, "statements": statements}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        out = []
        for t in data["tables"]:
            name = qualified(t["schema"], t["table"])
            seq, idx = int(t["seq_scan"]), int(t["idx_scan"])
            per_scan = int(t["seq_tup_read"] / seq) if seq else 0
            queries = queries_on(t["table"], data.get("statements") or [])[:3]
            severity = "warning" if seq > idx else "info"
            message = (f"{name} ({human_count(t['n_live_tup'])} rows) was read by {human_count(seq)} sequential scans and "
                       f"{human_count(idx)} index scans; each sequential scan read about {human_count(per_scan)} rows")
            evidence = {"seq_scan": seq, "idx_scan": idx, "index_share": round(idx / (seq + idx), 3) if seq + idx else 0,
                        "seq_tup_read": int(t["seq_tup_read"]), "rows_per_seq_scan": per_scan,
                        "live_rows": int(t["n_live_tup"]),
                        "top_queries": [{"query": q["query"][:300], "calls": q["calls"],
                                         "total_ms": round(q["total_ms"], 1)} for q in queries],
                        "source": "PgHero missing indexes, pg-index-health tables_with_missing_indexes"}
            if queries:
                action = ("explain the queries below (ecto-optimizer explain \"<sql>\" --params '[...]') to find the "
                          "index they need; the top one by total time is: " + queries[0]["query"][:200])
            else:
                action = (f"find the queries that filter {name} (pg_stat_statements or the app's logs) and explain them "
                          "to find the index they need")
            out.append(self.finding(severity, name, message, evidence, HealthFix(action=action)))
        return out


def queries_on(table: str, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pattern = re.compile(r'\b(?:FROM|JOIN|UPDATE|INTO)\s+(?:"?\w+"?\.)?"?' + re.escape(table) + r'"?(?![\w"])',
                         re.IGNORECASE)
    return [s for s in statements if s.get("query") and pattern.search(s["query"])]
