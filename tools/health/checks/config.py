"""config."""

from __future__ import annotations

from typing import Any

from tools.health import config as cfg
from tools.health.model import SEVERITY_ORDER, Env, Example, Finding, HealthCheck, human_bytes

DEFAULTS = {"work_mem": ("4096", "kB"), "random_page_cost": ("4", None), "statement_timeout": ("0", "ms"),
            "lock_timeout": ("0", "ms"), "idle_in_transaction_session_timeout": ("0", "ms"),
            "log_min_duration_statement": ("-1", "ms"), "shared_buffers": ("16384", "8kB"),
            "maintenance_work_mem": ("65536", "kB"), "effective_cache_size": ("524288", "8kB"),
            "max_connections": ("100", None), "autovacuum_max_workers": ("3", None), "jit": ("on", None),
            "effective_io_concurrency": ("1", None), "checkpoint_completion_target": ("0.9", None),
            "default_statistics_target": ("100", None), "min_wal_size": ("80", "MB"), "max_wal_size": ("1024", "MB"),
            "max_worker_processes": ("8", None), "max_parallel_workers": ("8", None),
            "max_parallel_workers_per_gather": ("2", None), "max_parallel_maintenance_workers": ("2", None),
            "fsync": ("on", None), "track_counts": ("on", None), "autovacuum_work_mem": ("-1", "kB")}


class Config(HealthCheck):
    """Compares the server's settings with PGTune's formulas for the machine (cores, memory and
    storage from flags, or read from the host when the database runs here) and the workload type
    (web by default), and flags the usual pitfalls whatever the machine.

    PGTune (shared/reference/db-health.md §4): shared_buffers RAM/4, effective_cache_size 3/4 RAM,
    maintenance_work_mem RAM/16 (max 8GB), work_mem (RAM - shared_buffers) / ((max_connections +
    workers) x 3) / the type's divisor (x1.3 when the data fits in RAM, x0.9 otherwise; min 4MB),
    WAL sizes, random_page_cost 1.1 off spinning disks, effective_io_concurrency by storage,
    parallel workers by cores, jit off for web/oltp/mixed. A memory setting is flagged when it is
    off by more than a factor of two; a choice (random_page_cost, jit, workers) when it differs.

    Pitfalls: work_mem at 4MB, random_page_cost 4 on SSD (ruby-pg-extras diagnose); statement_timeout,
    lock_timeout and idle_in_transaction_session_timeout at 0 and log_min_duration_statement -1
    (pg-index-health ImportantParam); shared_buffers, maintenance_work_mem, effective_cache_size at
    their defaults when the machine is unknown; fsync off, enable_* off (postgresqltuner);
    track_counts off; worst-case memory above 80 % of RAM (postgresqltuner).
    """

    id = "config"
    title = "Server settings against PGTune and the usual pitfalls"
    what = "Settings left at defaults that fit no production server, or far from PGTune's values for the machine."
    why = ("Defaults assume a tiny machine with spinning disks: the planner avoids indexes, sorts spill to "
           "disk, the cache is a fraction of the RAM, and runaway queries or transactions run forever.")
    threshold = ("PGTune value off by > 2x (memory) or different (choices); defaults per pg-index-health "
                 "ImportantParam and ruby-pg-extras diagnose; worst-case memory > 80 % RAM (postgresqltuner).")
    fix = "postgresql.conf lines (ALTER SYSTEM), and for session settings the repo's `parameters:` in config/runtime.exs."
    examples = [
        Example(fires=True, object="setting random_page_cost", severity="warning", data={"db_size": 1 << 30},
                settings={**DEFAULTS}, note="defaults on a known 16GB SSD machine",
                machine={"cores": 4, "memory": "16GB", "storage": "ssd"},
                fix_has=("random_page_cost = 1.1",)),
        Example(fires=False, data={"db_size": 1 << 30}, note="PGTune's output for 16GB, 4 cores, SSD, web",
                machine={"cores": 4, "memory": "16GB", "storage": "ssd"},
                settings={**DEFAULTS, "shared_buffers": ("524288", "8kB"), "effective_cache_size": ("1572864", "8kB"),
                          "maintenance_work_mem": ("1048576", "kB"), "work_mem": ("32768", "kB"),
                          "random_page_cost": ("1.1", None), "effective_io_concurrency": ("200", None),
                          "min_wal_size": ("1024", "MB"), "max_wal_size": ("4096", "MB"),
                          "max_worker_processes": ("4", None), "max_parallel_workers": ("4", None),
                          "max_parallel_workers_per_gather": ("2", None),
                          "max_parallel_maintenance_workers": ("2", None), "jit": ("off", None),
                          "statement_timeout": ("15000", "ms"), "lock_timeout": ("10000", "ms"),
                          "idle_in_transaction_session_timeout": ("60000", "ms"),
                          "log_min_duration_statement": ("1000", "ms")}),
    ]

    def collect(self, db) -> dict[str, Any]:
        row = db.one("SELECT pg_database_size(current_database()) AS size")
        overrides = db.try_rows("""
            SELECT coalesce('role ' || r.rolname, '') || CASE WHEN r.rolname IS NOT NULL AND d.datname IS NOT NULL
                   THEN ' in ' ELSE '' END || coalesce('database ' || d.datname, '') AS scope,
                   split_part(c.setting, '=', 1) AS name
            FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
            LEFT JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS c(setting)
            WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))""",
                                 what="per-role and per-database settings") or []
        params: dict[str, str] = {}
        if db.env.project:
            from tools.ecto.config import repo_parameters

            params = repo_parameters(db.env.project)
        return {"db_size": row["size"] if row else None, "role_settings": overrides, "repo_parameters": params}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        machine = env.machine or cfg.Machine()
        recs = cfg.pgtune(machine, env.workload, max_connections=int(env.setting_float("max_connections") or 100),
                          db_size_bytes=data.get("db_size"), version_num=env.server_version_num)
        found: dict[str, Finding] = {}

        def keep(f: Finding) -> None:
            old = found.get(f.object)
            if old is None or SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[old.severity]:
                found[f.object] = f

        for f in cfg.compare(env, recs):
            keep(f)
        for f in cfg.pitfalls(env):
            if f.object not in found:  # PGTune's comparison already says it, with a value for this machine
                keep(f)
        worst = cfg.memory_worst_case(env)
        if worst is not None:
            keep(worst)
        out = list(found.values())
        for f in out:
            if f.evidence.get("source") == "PGTune" and data.get("db_size") is not None:
                f.evidence["database_size"] = human_bytes(data["db_size"])
            overrides = _set_elsewhere(f.object.removeprefix("setting "), data)
            if overrides:
                # A role, database or the app's repo config sets it: the server default matters less.
                f.evidence["set_elsewhere"] = overrides
                f.message += f"; it is set for {', '.join(overrides)}, which overrides this for those sessions"
                if f.severity != "error":
                    f.severity = "info"
        return out


def _set_elsewhere(name: str, data: dict[str, Any]) -> list[str]:
    where = [f"{o['scope']}" for o in data.get("role_settings") or [] if o["name"] == name]
    if name in (data.get("repo_parameters") or {}):
        where.append(f"the repo's parameters: ({data['repo_parameters'][name]})")
    return where
