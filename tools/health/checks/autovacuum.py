"""autovacuum."""

from __future__ import annotations

from typing import Any

from tools.health.catalog import USER_SCHEMA, execute_fix, table_sql
from tools.health.config import setting_fix
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_count, qualified

DISABLED_SETUP = """
    CREATE TABLE carts (id bigserial PRIMARY KEY, total int NOT NULL) WITH (autovacuum_enabled = false);
    INSERT INTO carts (total) SELECT g FROM generate_series(1, 10000) g;
    ANALYZE carts;
    DELETE FROM carts WHERE id % 2 = 0;
"""


def reloption(options: list[str] | None, name: str) -> str | None:
    for opt in options or []:
        key, _, value = opt.partition("=")
        if key == name:
            return value
    return None


class Autovacuum(HealthCheck):
    """Fires on:

    - autovacuum off server-wide (error) or for a table (`autovacuum_enabled = false`, warning);
    - a backlog: dead rows above the table's vacuum trigger, `autovacuum_vacuum_threshold +
      autovacuum_vacuum_scale_factor x reltuples` honouring per-table settings (PostgreSQL docs,
      Routine Vacuuming; ecto_psql_extras vacuum_stats `expect_autovacuum`): info when due, a
      warning above twice the trigger (autovacuum is falling behind); and a warning when more
      tables are due than twice autovacuum_max_workers;
    - a hot table still on the default scale factor: >= 1,000,000 rows (ours: the default waits for
      200,000 dead rows there) with updates + deletes since the statistics reset >= 10 % of its rows
      (ours): info, suggesting per-table autovacuum_vacuum_scale_factor 0.01 and
      autovacuum_analyze_scale_factor 0.01 (0.005 with a threshold of 1000 above 10 M rows), the
      ranges in the reference;
    - an anti-wraparound vacuum about to start: age(relfrozenxid) within 2,000,000 of
      autovacuum_freeze_max_age (PgHero autovacuum_danger): info; it cannot be cancelled and
      blocks DDL on the table while it runs.
    """

    id = "autovacuum"
    title = "Autovacuum disabled, behind, or untuned for a hot table"
    what = "Tables autovacuum does not reach in time, or cannot reach at all."
    why = ("Dead rows left behind bloat tables and indexes, slow every scan, and stop index-only scans "
           "(the visibility map goes stale); missed analyzes leave the planner guessing.")
    threshold = ("Dead rows > threshold + scale_factor x reltuples (PostgreSQL docs; ecto_psql_extras vacuum_stats); "
                 "hot tables >= 1 M rows with >= 10 % churn (ours); freeze within 2 M of "
                 "autovacuum_freeze_max_age (PgHero).")
    fix = ("Per-table settings in a migration: `execute \"ALTER TABLE t SET (autovacuum_vacuum_scale_factor = 0.01, "
           "...)\", \"ALTER TABLE t RESET (...)\"`; `autovacuum = on` in postgresql.conf.")
    examples = [
        Example(fires=True, setup=DISABLED_SETUP, object="carts", severity="warning",
                fix_has=("ALTER TABLE carts RESET (autovacuum_enabled)",)),
        Example(fires=False, setup="""
            CREATE TABLE carts (id bigserial PRIMARY KEY, total int NOT NULL);
            INSERT INTO carts (total) SELECT g FROM generate_series(1, 10000) g;
            VACUUM ANALYZE carts;
        """),
        Example(fires=True, object="events", severity="info", note="a hot table on the default scale factor",
                data={"tables": [{"schema": "public", "table": "events", "reltuples": 5_000_000, "reloptions": None,
                                  "n_live_tup": 5_000_000, "n_dead_tup": 400_000, "n_tup_upd": 2_000_000,
                                  "n_tup_del": 100_000, "age": 1000, "last_autovacuum": None}],
                      "workers_running": 0},
                settings={"autovacuum": ("on", None), "autovacuum_vacuum_threshold": ("50", None),
                          "autovacuum_vacuum_scale_factor": ("0.2", None), "autovacuum_max_workers": ("3", None),
                          "autovacuum_freeze_max_age": ("200000000", None)},
                fix_has=("autovacuum_vacuum_scale_factor = 0.01", "RESET (autovacuum_vacuum_scale_factor")),
    ]

    def collect(self, db) -> dict[str, Any]:
        tables = db.rows(f"""
            SELECT n.nspname AS schema, c.relname AS table, c.reltuples, c.reloptions,
                   st.n_live_tup, st.n_dead_tup, st.n_tup_upd, st.n_tup_del, st.last_autovacuum, st.last_vacuum,
                   age(c.relfrozenxid) AS age
            FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND {USER_SCHEMA}
            ORDER BY st.n_dead_tup DESC""")
        running = db.one("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
        return {"tables": tables, "workers_running": running["n"] if running else 0}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        th = env.thresholds
        out: list[Finding] = []
        if env.setting("autovacuum") == "off":
            fix = setting_fix("autovacuum", "on", "sighup")
            out.append(self.finding("error", "setting autovacuum",
                                    "autovacuum is off server-wide: no table is vacuumed or analyzed unless someone "
                                    "does it by hand, and anti-wraparound vacuums still force their way in",
                                    {"autovacuum": "off"}, fix))
        base_threshold = env.setting_float("autovacuum_vacuum_threshold") or 50
        base_scale = env.setting_float("autovacuum_vacuum_scale_factor")
        base_scale = 0.2 if base_scale is None else base_scale
        freeze_max = env.setting_float("autovacuum_freeze_max_age") or 200_000_000
        workers = int(env.setting_float("autovacuum_max_workers") or 3)
        due = []
        for t in data["tables"]:
            name = qualified(t["schema"], t["table"])
            target = table_sql(t["schema"], t["table"])
            opts = t.get("reloptions")
            rows = max(float(t.get("reltuples") or 0), 0.0)
            dead = int(t.get("n_dead_tup") or 0)
            threshold = float(reloption(opts, "autovacuum_vacuum_threshold") or base_threshold)
            scale = float(reloption(opts, "autovacuum_vacuum_scale_factor") or base_scale)
            trigger = threshold + scale * rows
            evidence = {"dead_rows": dead, "live_rows": int(t.get("n_live_tup") or 0), "reltuples": int(rows),
                        "vacuum_trigger": int(trigger), "formula": f"{threshold:g} + {scale:g} x {int(rows)}",
                        "last_autovacuum": str(t.get("last_autovacuum") or "never"),
                        "reloptions": opts or []}
            if (reloption(opts, "autovacuum_enabled") or "").lower() in ("false", "off", "0", "no"):
                fix = HealthFix(
                    ecto=execute_fix(f"enable_autovacuum_{t['table']}", f"ALTER TABLE {target} RESET (autovacuum_enabled)",
                                     f"ALTER TABLE {target} SET (autovacuum_enabled = false)",
                                     comment=f"Let autovacuum look after {t['table']} again."),
                    sql=f"ALTER TABLE {target} RESET (autovacuum_enabled);",
                    action=f"and catch up now: VACUUM (ANALYZE) {target};")
                out.append(self.finding("warning", name,
                                        f"autovacuum is disabled for {name} (autovacuum_enabled = false): "
                                        f"{human_count(dead)} dead rows stay until someone vacuums by hand",
                                        evidence, fix))
                continue
            if dead > trigger and env.setting("autovacuum") != "off":
                due.append(name)
                severity = "warning" if dead > 2 * trigger else "info"
                out.append(self.finding(severity, name,
                                        f"{name} has {human_count(dead)} dead rows, over its autovacuum trigger of "
                                        f"{human_count(trigger)}: " + ("autovacuum is falling behind on it"
                                                                       if severity == "warning" else "a vacuum is due"),
                                        evidence, self._tune(t, target, rows,
                                                             action=f"catch up now: VACUUM (ANALYZE) {target};")))
                continue
            churn = int(t.get("n_tup_upd") or 0) + int(t.get("n_tup_del") or 0)
            if (rows >= th.hot_table_min_rows and reloption(opts, "autovacuum_vacuum_scale_factor") is None
                    and churn >= th.hot_table_min_churn * rows):
                out.append(self.finding(
                    "info", name,
                    f"{name} is large and busy ({human_count(rows)} rows, {human_count(churn)} updates and deletes "
                    f"since the statistics reset) but still waits for {human_count(trigger)} dead rows "
                    f"({scale:.0%} of it) before autovacuum starts",
                    {**evidence, "updates_and_deletes": churn}, self._tune(t, target, rows)))
                continue
            freeze_at = float(reloption(opts, "autovacuum_freeze_max_age") or freeze_max)
            age = int(t.get("age") or 0)
            if age > freeze_at - th.autovacuum_freeze_margin:
                out.append(self.finding(
                    "info", name,
                    f"{name}'s oldest unfrozen rows are {human_count(age)} transactions old, at autovacuum_freeze_max_age "
                    f"({human_count(freeze_at)}): an anti-wraparound vacuum starts (or runs) now; it cannot be cancelled "
                    "and blocks schema changes on the table",
                    {**evidence, "age": age, "autovacuum_freeze_max_age": int(freeze_at)},
                    HealthFix(action=f"let it finish; to make it cheaper next time, VACUUM (FREEZE) {target} "
                                     "at a quiet hour")))
        if len(due) > 2 * workers:
            fix = setting_fix("autovacuum_max_workers", str(min(workers * 2, 10)), "postmaster")
            fix.action = "and raise autovacuum_vacuum_cost_limit (200 inherited from vacuum_cost_limit) on fast storage"
            out.append(self.finding("warning", "setting autovacuum_max_workers",
                                    f"{len(due)} tables are past their vacuum trigger but autovacuum runs at most "
                                    f"{workers} workers", {"tables_due": due[:10], "workers": workers}, fix))
        return out

    def _tune(self, t: dict[str, Any], target: str, rows: float, *, action: str | None = None) -> HealthFix:
        if rows >= 10_000_000:
            settings = "autovacuum_vacuum_scale_factor = 0.005, autovacuum_vacuum_threshold = 1000, " \
                       "autovacuum_analyze_scale_factor = 0.01"
            names = "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor"
        else:
            settings = "autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01"
            names = "autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor"
        ecto = execute_fix(f"tune_autovacuum_{t['table']}", f"ALTER TABLE {target} SET ({settings})",
                           f"ALTER TABLE {target} RESET ({names})",
                           comment=f"Vacuum and analyze {t['table']} after 1 % of its rows change, not 20 %.")
        return HealthFix(ecto=ecto, sql=f"ALTER TABLE {target} SET ({settings});", action=action)
