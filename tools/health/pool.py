"""Ecto pool sizing: the repo's pool against the server's connections and cores, reasoning shown.

The rules are shared/reference/db-health.md §5: DBConnection's defaults (pool_size 10,
pool_count 1, queue_target 50 ms, queue_interval 2000 ms); total connections = pool_size x
pool_count x app nodes, which must stay below max_connections - superuser_reserved_connections -
reserved_connections (PG 16+); and the PostgreSQL wiki / HikariCP rule that about
(cores x 2) + effective spindles connections keep a server busy, with PgBouncer the answer when
the app wants far more than that.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.ecto.elixir import Expr, iter_calls, keyword_get, parse, value
from tools.errors import InputError

DEFAULTS = {"pool_size": 10, "pool_count": 1, "queue_target": 50, "queue_interval": 2000}
# Production settings win: runtime.exs and prod.exs describe the deployed app, dev.exs a laptop.
PRECEDENCE = ("dev.exs", "config.exs", "prod.exs", "runtime.exs")
_ENV_DEFAULT = re.compile(r'System\.get_env\(\s*"(\w+)"\s*(?:,\s*"(\d+)"\s*)?\)(?:\s*\|\|\s*"?(\d+)"?)?')


@dataclass
class PoolConfig:
    values: dict[str, int] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)  # key -> "config/runtime.exs" or "default"
    repo: str | None = None
    app: str | None = None  # the otp_app atom, ":helpdesk"

    def get(self, key: str) -> int:
        return self.values.get(key, DEFAULTS[key])

    def where(self, key: str) -> str:
        return self.source.get(key, "Ecto's default")


def read_pool_config(project: Path) -> PoolConfig | None:
    """The repo's pool options from config/*.exs, or None when no `config :app, X.Repo` is found."""
    found = PoolConfig()
    seen = False
    for name in PRECEDENCE:
        path = Path(project) / "config" / name
        if not path.is_file():
            continue
        try:
            tree = parse(path.read_bytes())
        except InputError:
            continue
        for call in iter_calls(tree.root_node):
            if call.name != "config" or len(call.args) < 3 or call.args[-1].type != "keywords":
                continue
            repo = call.args[1]
            if repo.type != "alias" or not repo.text.decode().endswith("Repo"):
                continue
            seen = True
            found.repo = repo.text.decode()
            found.app = call.args[0].text.decode()
            for key in DEFAULTS:
                node = keyword_get(call.args[-1], key)
                if node is None:
                    continue
                number, how = _number(value(node))
                if number is not None:
                    found.values[key] = number
                    found.source[key] = f"config/{name}" + (f", {how}" if how else "")
    return found if seen else None


def _number(v: Any) -> tuple[int | None, str]:
    if isinstance(v, bool):
        return None, ""
    if isinstance(v, int):
        return v, ""
    if isinstance(v, Expr):
        m = _ENV_DEFAULT.search(v.text)
        if m:
            default = m.group(2) or m.group(3)
            if default:
                return int(default), f"${m.group(1)} or {default}"
    return None, ""


@dataclass
class Server:
    max_connections: int
    reserved: int  # superuser_reserved_connections + reserved_connections
    connections: int  # client connections open now
    cores: int | None
    storage: str | None


@dataclass
class PoolAdvice:
    total: int
    usable: int
    best: int | None
    reasoning: list[str]
    verdicts: list[tuple[str, str, str]]  # (severity, kind, message)
    suggested_pool_size: int | None = None


def advise(pool: PoolConfig, server: Server, *, app_nodes: int = 1) -> PoolAdvice:
    size, count = pool.get("pool_size"), pool.get("pool_count")
    per_node = size * count
    total = per_node * app_nodes
    usable = server.max_connections - server.reserved
    spindles = 1 if server.storage == "hdd" else 0
    best = server.cores * 2 + spindles if server.cores else None
    reasoning = [
        f"pool_size {size} ({pool.where('pool_size')}) x pool_count {count} ({pool.where('pool_count')}) "
        f"= {per_node} connections per app node",
        f"x {app_nodes} app node{'s' if app_nodes != 1 else ''} (--app-nodes) = {total} connections",
        f"usable on the server: max_connections {server.max_connections} - {server.reserved} reserved = {usable}",
    ]
    if best is not None:
        reasoning.append(f"a {server.cores}-core server keeps about (cores x 2) + {spindles} spindle"
                         f"{'s' if spindles != 1 else ''} = {best} connections busy (PostgreSQL wiki, HikariCP)")
    else:
        reasoning.append("the server's cores are unknown (pass --cores): no throughput estimate")
    reasoning.append(f"queue_target {pool.get('queue_target')} ms / queue_interval {pool.get('queue_interval')} ms "
                     f"({pool.where('queue_target')}): checkouts waiting longer than that for a whole interval "
                     "start failing with DBConnection.ConnectionError")
    verdicts: list[tuple[str, str, str]] = []
    suggested = None
    if total > usable:
        suggested = max(1, math.floor(usable * 0.9 / (app_nodes * count)))
        verdicts.append(("error", "over",
                         f"the app opens up to {total} connections but the server accepts {usable}: the last ones fail "
                         f"with 'sorry, too many clients already' as nodes start or scale out; pool_size {suggested} "
                         "leaves 10 % for migrations, consoles and other clients"))
    elif best is not None and total > 2 * best:
        verdicts.append(("info", "oversized",
                         f"{total} connections for a {server.cores}-core server that keeps about {best} busy: under load "
                         "the extra ones queue inside PostgreSQL rather than in the pool; if the app needs many "
                         "mostly-idle connections, put PgBouncer (transaction mode) in front and set "
                         "prepare: :unnamed on the repo"))
    share = server.connections / usable if usable > 0 else 1.0
    if share >= 0.7:
        severity = "error" if share >= 0.9 else "warning"
        verdicts.append((severity, "busy",
                         f"{server.connections} of {usable} usable connections are open now ({share:.0%}): new "
                         "connections, a deploy's second set of pools, or a migration may be refused"))
    reasoning.append(f"open now: {server.connections} client connections ({share:.0%} of usable)")
    return PoolAdvice(total=total, usable=usable, best=best, reasoning=reasoning, verdicts=verdicts,
                      suggested_pool_size=suggested)
