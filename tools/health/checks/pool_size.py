"""pool-size."""

from __future__ import annotations

from typing import Any

from tools.explain.ecto_fix import APP_ATOM, APP_MODULE
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix
from tools.health.pool import PoolConfig, Server, advise, read_pool_config

RUNTIME_60 = """import Config

if config_env() == :prod do
  config :shop, Shop.Repo,
    url: System.get_env("DATABASE_URL"),
    pool_size: String.to_integer(System.get_env("POOL_SIZE") || "60")
end
"""


class PoolSize(HealthCheck):
    """Reads the repo's pool from config/*.exs (runtime.exs and prod.exs over config.exs and
    dev.exs; `System.get_env("POOL_SIZE") || "10"` counts as its default) and compares
    pool_size x pool_count x app nodes with the connections the server accepts and with what its
    cores can keep busy, showing each step:

    - error when the pools exceed max_connections - superuser_reserved_connections -
      reserved_connections (the reference's derived check);
    - info when they exceed twice (cores x 2) + spindles (PostgreSQL wiki, HikariCP): suggest
      PgBouncer rather than more connections;
    - warning at 70 %, error at 90 % of usable connections open now (postgresqltuner).

    Without --project only the last applies. App nodes default to 1 (--app-nodes).
    """

    id = "pool-size"
    title = "Ecto pool against the server's connections and cores"
    what = "An Ecto pool larger than the server accepts, far larger than it can use, or a server near its limit."
    why = ("Connections over max_connections are refused at boot or scale-out; connections far beyond the "
           "cores only move the queue from the pool (where queue_target/queue_interval report it) into PostgreSQL.")
    threshold = ("Σ pool_size x pool_count > max_connections - reserved (error); > 2 x ((cores x 2) + spindles) "
                 "(info; PostgreSQL wiki, HikariCP); open connections >= 70 % / 90 % of usable (postgresqltuner).")
    fix = "Set pool_size in config/runtime.exs (POOL_SIZE), add PgBouncer, or raise max_connections."
    examples = [
        Example(fires=True, object="pool Shop.Repo", severity="error", project={"config/runtime.exs": RUNTIME_60},
                fix_has=("pool_size: String.to_integer(System.get_env(\"POOL_SIZE\") ||",)),
        Example(fires=False, project={"config/runtime.exs": RUNTIME_60.replace('"60"', '"4"')},
                machine={"cores": 2}),
        Example(fires=True, object="server connections", severity="error", note="nearly full",
                data={"pool": None, "server": Server(max_connections=100, reserved=3, connections=95, cores=8,
                                                     storage="ssd")}),
    ]

    def collect(self, db) -> dict[str, Any]:
        env = db.env
        row = db.one("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")
        reserved = int(env.setting_float("superuser_reserved_connections") or 0) + \
            int(env.setting_float("reserved_connections") or 0)
        machine = env.machine
        server = Server(max_connections=int(env.setting_float("max_connections") or 100), reserved=reserved,
                        connections=int(row["n"]) if row else 0,
                        cores=getattr(machine, "cores", None), storage=getattr(machine, "storage", None))
        pool = read_pool_config(env.project) if env.project else None
        if env.project and pool is None:
            db.cannot_read(f"the repo's pool settings in {env.project}/config", "no `config :app, X.Repo, ...` found")
        return {"pool": pool, "server": server}

    def evaluate(self, data: dict[str, Any], env: Env) -> list[Finding]:
        pool: PoolConfig | None = data["pool"]
        server: Server = data["server"]
        advice = advise(pool or PoolConfig(), server, app_nodes=env.app_nodes)
        out = []
        for severity, kind, message in advice.verdicts:
            if kind != "busy" and pool is None:
                continue
            evidence = {"reasoning": advice.reasoning, "total_connections": advice.total,
                        "usable_connections": advice.usable, "busy_estimate": advice.best,
                        "open_connections": server.connections}
            if kind == "busy":
                obj = "server connections"
                fix = HealthFix(action="find who holds them: SELECT application_name, state, count(*) FROM "
                                       "pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC; then shrink pools or add PgBouncer",
                                config="max_connections = ...    # needs a restart; each connection costs memory")
            else:
                repo = pool.repo or f"{APP_MODULE}.Repo"
                app = pool.app or f":{APP_ATOM}"
                obj = f"pool {repo}"
                size = advice.suggested_pool_size or pool.get("pool_size")
                ecto = (f"# config/runtime.exs\nconfig {app}, {repo},\n"
                        f"  pool_size: String.to_integer(System.get_env(\"POOL_SIZE\") || \"{size}\")")
                if kind == "oversized":
                    ecto += ("\n# behind PgBouncer in transaction mode, also:\n"
                             "#   prepare: :unnamed")
                fix = HealthFix(ecto=ecto, action=None if kind == "over" else
                                "or keep the pool and put PgBouncer between the app and PostgreSQL")
            out.append(self.finding(severity, obj, message, evidence, fix))
        return out
