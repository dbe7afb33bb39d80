"""stale-stats."""

from __future__ import annotations

from typing import Any

from tools.health.catalog import USER_SCHEMA, execute_fix, table_sql
from tools.health.checks.autovacuum import reloption
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_count, qualified


class StaleStats(HealthCheck):
    """Fires on a table of at least 1,000 live rows (ours) that

    - was never analyzed (no last_analyze or last_autoanalyze): a warning, the planner assumes
      default selectivities; or
    - has changed more since its last analyze than its autoanalyze trigger,
      `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x reltuples` (50 + 10 %
      by default, per-table settings honoured; PostgreSQL docs, Routine Vacuuming): info, a
      warning when the changed rows exceed the rows the statistics describe.

    Bulk loads in migrations or seeds are the common Ecto cause: autovacuum analyzes within a
    minute or so, but queries planned in between get bad plans, and with autovacuum disabled on
    the table it never happens.
    """

    id = "stale-stats"
    title = "Table statistics out of date"
    what = "A table whose planner statistics no longer describe its data."
    why = ("Row estimates come from pg_statistic; when it is missing or old, the planner picks nested "
           "loops for big joins, sequential scans for selective filters, and misjudges every join above.")
    threshold = ("Never analyzed, or changes since the last analyze > 50 + 0.1 x reltuples (autoanalyze trigger, "
                 "PostgreSQL docs); tables >= 1,000 rows (ours).")
    fix = ("ANALYZE the table now; after bulk loads in migrations, `execute \"ANALYZE table\"`; for big, "
           "busy tables lower autovacuum_analyze_scale_factor per table.")
    examples = [
        Example(fires=True, object="imports", severity="warning",
                setup="""
                    CREATE TABLE imports (id bigserial PRIMARY KEY, row_data text) WITH (autovacuum_enabled = false);
                    INSERT INTO imports (row_data) SELECT 'r' || g FROM generate_series(1, 20000) g;
                """, fix_has=("ANALYZE imports",)),
        Example(fires=False,
                setup="""
                    CREATE TABLE imports (id bigserial PRIMARY KEY, row_data text);
                    INSERT INTO imports (row_data) SELECT 'r' || g FROM generate_series(1, 20000) g;
                    ANALYZE imports;
                """),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        return db.rows(f"""
            SELECT n.nspname AS schema, c.relname AS table, c.reltuples, c.reloptions, st.n_live_tup,
                   st.n_mod_since_analyze, st.last_analyze, st.last_autoanalyze,
                   greatest(st.last_analyze, st.last_autoanalyze) AS analyzed_at
            FROM pg_stat_user_tables st JOIN pg_class c ON c.oid = st.relid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {USER_SCHEMA} AND c.relkind IN ('r', 'm', 'p') AND st.n_live_tup >= %s
            ORDER BY st.n_mod_since_analyze DESC""", (db.env.thresholds.stale_min_rows,))

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        base_threshold = env.setting_float("autovacuum_analyze_threshold") or 50
        base_scale = env.setting_float("autovacuum_analyze_scale_factor")
        base_scale = 0.1 if base_scale is None else base_scale
        out = []
        for t in data:
            name = qualified(t["schema"], t["table"])
            target = table_sql(t["schema"], t["table"])
            rows = max(float(t.get("reltuples") or 0), 0.0)
            changed = int(t.get("n_mod_since_analyze") or 0)
            threshold = float(reloption(t.get("reloptions"), "autovacuum_analyze_threshold") or base_threshold)
            scale = float(reloption(t.get("reloptions"), "autovacuum_analyze_scale_factor") or base_scale)
            trigger = threshold + scale * rows
            evidence = {"live_rows": int(t.get("n_live_tup") or 0), "reltuples": int(rows), "changed_since_analyze": changed,
                        "analyze_trigger": int(trigger), "last_analyze": str(t.get("last_analyze") or "never"),
                        "last_autoanalyze": str(t.get("last_autoanalyze") or "never")}
            if t.get("analyzed_at") is None:
                message = (f"{name} has never been analyzed ({human_count(t['n_live_tup'])} rows): the planner has no "
                           "statistics for it and guesses every estimate")
                severity = "warning"
            elif changed > trigger:
                severity = "warning" if changed > max(rows, 1) else "info"
                message = (f"{name} has had {human_count(changed)} rows changed since it was last analyzed "
                           f"({t['analyzed_at']:%Y-%m-%d %H:%M}), over its autoanalyze trigger of "
                           f"{human_count(trigger)}: its estimates are out of date")
            else:
                continue
            fix = HealthFix(sql=f"ANALYZE {target};",
                            action=f"run ANALYZE {target}; now (it reads a sample, takes no lock that blocks the app); "
                                   "after bulk loads in migrations, add execute \"ANALYZE ...\" at the end")
            if rows >= env.thresholds.hot_table_min_rows:
                fix.ecto = execute_fix(f"tune_analyze_{t['table']}",
                                       f"ALTER TABLE {target} SET (autovacuum_analyze_scale_factor = 0.01)",
                                       f"ALTER TABLE {target} RESET (autovacuum_analyze_scale_factor)",
                                       comment=f"Re-analyze {t['table']} after 1 % of its rows change, not 10 %.")
            out.append(self.finding(severity, name, message, evidence, fix))
        return out
