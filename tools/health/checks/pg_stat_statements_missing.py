"""pg-stat-statements-missing."""

from __future__ import annotations

from typing import Any

from tools.health.catalog import execute_fix
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix


class PgStatStatementsMissing(HealthCheck):
    """Fires (warning) when pg_stat_statements cannot answer in this database: the library is not
    in shared_preload_libraries, the extension is not created here, or pg_stat_statements.track
    is none. PgHero, ecto_psql_extras (outliers, calls) and this tool's own ranking of slow
    queries all need it. Reading it needs pg_read_all_stats to see other roles' query texts;
    without it, the runner says so instead of reporting the extension missing.
    """

    id = "pg-stat-statements-missing"
    title = "pg_stat_statements not available"
    what = "The extension that records every statement's calls and time is not collecting."
    why = ("Without it there is no ranking of queries by total time: slow queries have to be found in "
           "logs one request at a time.")
    threshold = "Not loaded, not created in this database, or track = none (PgHero, ecto_psql_extras outliers)."
    fix = ("`shared_preload_libraries = 'pg_stat_statements'` in postgresql.conf (restart), then a migration "
           "with `execute \"CREATE EXTENSION IF NOT EXISTS pg_stat_statements\"`.")
    examples = [
        Example(fires=True, object="extension pg_stat_statements", severity="warning",
                setup="DROP EXTENSION IF EXISTS pg_stat_statements;",
                fix_has=("CREATE EXTENSION IF NOT EXISTS pg_stat_statements",)),
        Example(fires=False, setup="CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"),
        Example(fires=True, object="setting shared_preload_libraries", note="not preloaded",
                data={"installed": True, "readable": False, "error": "pg_stat_statements must be loaded via "
                                                                        "shared_preload_libraries"},
                settings={"shared_preload_libraries": ("", None), "pg_stat_statements.track": ("top", None)},
                fix_has=("shared_preload_libraries = 'pg_stat_statements'",)),
    ]

    def collect(self, db) -> dict[str, Any]:
        installed = db.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
        data: dict[str, Any] = {"installed": installed is not None,
                                "version": installed["extversion"] if installed else None,
                                "readable": False, "error": None}
        if installed:
            try:
                with db.conn.transaction():
                    db.rows("SELECT 1 FROM pg_stat_statements LIMIT 1")
                data["readable"] = True
            except Exception as exc:  # noqa: BLE001 - whatever it says is the evidence
                from tools.db.connect import describe_error

                data["error"] = describe_error(exc)
        return data

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        preload = [p.strip() for p in (env.setting("shared_preload_libraries") or "").split(",") if p.strip()]
        loaded = "pg_stat_statements" in preload or (data.get("readable") and data.get("installed"))
        conf = HealthFix(config="shared_preload_libraries = 'pg_stat_statements'    # needs a restart\n"
                                "pg_stat_statements.track = top",
                         action="on a managed service, set it in the parameter group (RDS: enabled by default on "
                                "recent versions), then restart")
        if not loaded:
            return [self.finding("warning", "setting shared_preload_libraries",
                                 "pg_stat_statements is not in shared_preload_libraries, so no statement statistics "
                                 "are collected", {"shared_preload_libraries": ", ".join(preload) or "(empty)",
                                                   "error": data.get("error")}, conf)]
        if not data.get("installed"):
            ecto = execute_fix("create_pg_stat_statements", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
                               "DROP EXTENSION IF EXISTS pg_stat_statements",
                               comment="The library is preloaded; this makes its view queryable in this database.")
            return [self.finding("warning", "extension pg_stat_statements",
                                 f"pg_stat_statements is loaded but not created in database {env.database}, so its view "
                                 "cannot be queried here", {"shared_preload_libraries": ", ".join(preload)},
                                 HealthFix(ecto=ecto, sql="CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"))]
        if env.setting("pg_stat_statements.track") == "none":
            return [self.finding("warning", "setting pg_stat_statements.track",
                                 "pg_stat_statements.track is none: the extension is installed but records nothing",
                                 {"pg_stat_statements.track": "none"},
                                 HealthFix(config="pg_stat_statements.track = top",
                                           sql="ALTER SYSTEM SET pg_stat_statements.track = 'top';\n"
                                               "SELECT pg_reload_conf();"))]
        if not data.get("readable") and data.get("error"):
            return [self.finding("warning", "extension pg_stat_statements",
                                 f"pg_stat_statements is installed but cannot be read: {data['error']}",
                                 {"error": data["error"], "version": data.get("version")}, conf)]
        return []
