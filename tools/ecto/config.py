"""Reading an Ecto app's config/*.exs for the repo settings that change how queries run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.ecto.elixir import iter_calls, keyword_get, parse, value
from tools.errors import InputError

CONFIG_FILES = ("config.exs", "dev.exs", "prod.exs", "runtime.exs")


def repo_options(project: Path) -> dict[str, Any]:
    """Keyword options given to any `config :app, Something.Repo, ...` call, later files winning."""
    options: dict[str, Any] = {}
    for name in CONFIG_FILES:
        path = Path(project) / "config" / name
        if not path.is_file():
            continue
        try:
            tree = parse(path.read_bytes())
        except InputError:
            continue  # a config we cannot parse contributes nothing; the app would not boot either
        for call in iter_calls(tree.root_node):
            if call.name != "config" or len(call.args) < 3 or call.args[-1].type != "keywords":
                continue
            if not call.args[1].type == "alias" or not call.args[1].text.decode().endswith("Repo"):
                continue
            for key in ("parameters", "pool_size", "migration_lock", "queue_target", "queue_interval", "pool_count"):
                node = keyword_get(call.args[-1], key)
                if node is not None:
                    options[key] = value(node)
    return options


def repo_parameters(project: Path) -> dict[str, str]:
    """The repo's `parameters:` (session settings such as work_mem) as strings."""
    params = repo_options(project).get("parameters") or []
    if isinstance(params, dict):
        params = list(params.items())
    result = {}
    for item in params if isinstance(params, list) else []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (str, int, float)):
            result[str(item[0])] = str(item[1])
    return result
