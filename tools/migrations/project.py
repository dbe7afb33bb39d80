"""What the linter reads from the Ecto project around the migrations.

- The repo's settings from config/*.exs: `migration_lock`, `migration_primary_key`,
  `migration_foreign_key`, `migration_timestamps`, `priv:` and `parameters: [lock_timeout: …]`,
  picked for the repo whose `priv/<repo>/migrations` directory is being checked.
- excellent_migrations' own config (`config :excellent_migrations, skip_checks: […],
  start_after: "…"`), so a project moving over keeps its decisions.
- The Ecto schemas in lib/, read lazily (only when a column or table is dropped), to tell
  whether running code still maps what a migration removes.
- Our config file: `.ecto-optimizer.toml` (section `[migrations]`) or
  `.ecto-optimizer-migrations.json`, at the project root.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.ecto import elixir as ex
from tools.ecto.elixir import Atom
from tools.ecto.migration import keyword_dict
from tools.errors import InputError

CONFIG_FILES = ("config.exs", "dev.exs", "prod.exs", "runtime.exs")
TOML_NAME = ".ecto-optimizer.toml"
JSON_NAME = ".ecto-optimizer-migrations.json"


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` with a mix.exs."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        if (candidate / "mix.exs").is_file():
            return candidate
    return None


# ---- repo config --------------------------------------------------------------------------------

@dataclass
class RepoSettings:
    module: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def migration_lock(self) -> str:
        value = self.options.get("migration_lock", Atom("table_lock"))
        if value is False or value is None:
            return "false"
        return str(value) if isinstance(value, str) else "table_lock"

    @property
    def lock_timeout(self) -> bool:
        params = self.options.get("parameters")
        if isinstance(params, list):
            return any(isinstance(p, tuple) and p and p[0] == "lock_timeout" for p in params)
        return False

    def _kw(self, key: str) -> dict[str, Any] | None:
        value = self.options.get(key)
        if value is False:
            return None
        return keyword_dict(value) if isinstance(value, list) else {}

    @property
    def primary_key(self) -> dict[str, Any] | None:
        return self._kw("migration_primary_key")

    @property
    def foreign_key(self) -> dict[str, Any]:
        return self._kw("migration_foreign_key") or {}

    @property
    def timestamps(self) -> dict[str, Any]:
        return self._kw("migration_timestamps") or {}

    @property
    def priv(self) -> str | None:
        value = self.options.get("priv")
        return value if isinstance(value, str) else None


def _underscore(module: str) -> str:
    last = module.rsplit(".", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", last).lower()


def _config_dirs(root: Path) -> list[Path]:
    """config/ of the project, and of the umbrella above it (apps/<app>/ uses ../../config)."""
    dirs = [root / "config"]
    if root.parent.name == "apps":
        dirs.append(root.parent.parent / "config")
    return [d for d in dirs if d.is_dir()]


def read_configs(root: Path) -> tuple[dict[str, RepoSettings], dict[str, Any]]:
    """Repo settings by module, and the excellent_migrations config, later files winning."""
    repos: dict[str, RepoSettings] = {}
    excellent: dict[str, Any] = {}
    for directory in reversed(_config_dirs(root)):
        for name in CONFIG_FILES:
            path = directory / name
            if not path.is_file():
                continue
            try:
                tree = ex.parse(path.read_bytes())
            except InputError:
                continue  # a config that does not parse would not boot the app either
            for call in ex.iter_calls(tree.root_node):
                if call.name != "config" or len(call.args) < 2 or call.args[-1].type != "keywords":
                    continue
                target = call.args[1] if len(call.args) >= 3 else call.args[0]
                opts = ex.value(call.args[-1])
                if len(call.args) == 2 and ex.text(call.args[0]) == ":excellent_migrations":
                    excellent.update(keyword_dict(opts))
                elif len(call.args) >= 3 and target.type == "alias" and \
                        ex.text(target).endswith("Repo"):
                    module = ex.text(target)
                    repos.setdefault(module, RepoSettings(module)).options.update(keyword_dict(opts))
    return repos, excellent


def repo_for(repos: dict[str, RepoSettings], migrations_dir: Path) -> RepoSettings | None:
    """The repo whose migrations live in `migrations_dir`: Ecto's default is
    priv/<underscored last part of the module>/migrations, or the repo's `priv:` option."""
    if not repos:
        return None
    parts = migrations_dir.resolve().parts
    for repo in repos.values():
        priv = repo.priv
        if priv and "/".join(parts).endswith(priv.strip("/") + "/" + parts[-1]):
            return repo
    parent = parts[-2] if len(parts) >= 2 else ""
    for repo in repos.values():
        if _underscore(repo.module) == parent:
            return repo
    named_repo = [r for r in repos.values() if r.module.endswith(".Repo")]
    return named_repo[0] if named_repo else next(iter(repos.values()))


# ---- schemas ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemaRef:
    module: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


class Project:
    """Lazily read Ecto schemas: table -> column -> where the schema maps it."""

    def __init__(self, root: Path | None, schemas: dict[str, dict[str, SchemaRef]] | None = None):
        self.root = root
        self._schemas = schemas

    @property
    def schemas(self) -> dict[str, dict[str, SchemaRef]]:
        if self._schemas is None:
            self._schemas = read_schemas(self.root) if self.root is not None else {}
        return self._schemas

    @property
    def schemas_known(self) -> bool:
        return bool(self.schemas)

    def schema_for(self, table: str | None) -> SchemaRef | None:
        cols = self.schemas.get(table or "")
        return next(iter(cols.values()), None) if cols else None

    def schema_field(self, table: str | None, column: str) -> SchemaRef | None:
        return self.schemas.get(table or "", {}).get(column)


def _lib_dirs(root: Path) -> list[Path]:
    dirs = [root / "lib"]
    apps = root / "apps"
    if apps.is_dir():
        dirs += sorted(p / "lib" for p in apps.iterdir() if (p / "lib").is_dir())
    return [d for d in dirs if d.is_dir()]


def read_schemas(root: Path) -> dict[str, dict[str, SchemaRef]]:
    out: dict[str, dict[str, SchemaRef]] = {}
    for lib in _lib_dirs(root):
        for path in lib.rglob("*.ex"):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if b"schema \"" not in data and b"schema(\"" not in data:
                continue  # most modules are not schemas; skip the parse
            try:
                tree = ex.parse(data)
            except InputError:
                continue
            rel = str(path.relative_to(root))
            _collect_schemas(tree.root_node, rel, out)
    return out


def _collect_schemas(root: Any, rel: str, out: dict[str, dict[str, SchemaRef]]) -> None:
    modules: list[tuple[int, int, str]] = []
    schemas = []
    for call in ex.iter_calls(root):
        if call.name == "defmodule" and call.args:
            modules.append((call.node.start_byte, call.node.end_byte, ex.text(call.args[0])))
        elif call.name == "schema" and call.args and call.do_block is not None:
            schemas.append(call)
    for call in schemas:
        around = [m for m in modules if m[0] <= call.node.start_byte < m[1]]
        if len(around) != 1:
            # a schema module nested in another module is a frozen copy (data migrations keep
            # one), not the code the app runs
            continue
        table = ex.value(call.args[0])
        if not isinstance(table, str) or isinstance(table, Atom):
            continue
        module = around[0][2]
        cols = out.setdefault(str(table), {})
        cols.setdefault("id", SchemaRef(module, rel, ex.line(call.node)))
        for node in ex.body(call.do_block):
            inner = ex.as_call(node)
            if inner is None:
                continue
            for col in _mapped_columns(inner):
                cols.setdefault(col, SchemaRef(module, rel, ex.line(node)))


def _mapped_columns(call: ex.Call) -> list[str]:
    args = call.args
    opts = keyword_dict(ex.value(args[-1])) if args and args[-1].type == "keywords" else {}
    first = ex.value(args[0]) if args else None
    if not isinstance(first, str):
        return []
    if call.name == "field":
        if opts.get("virtual") is True:
            return []  # not a column
        source = opts.get("source")
        return [str(source) if isinstance(source, str) else str(first)]
    if call.name in ("embeds_one", "embeds_many"):
        source = opts.get("source")
        return [str(source) if isinstance(source, str) else str(first)]
    if call.name == "belongs_to":
        if opts.get("define_field") is False:
            return []
        key = opts.get("foreign_key")
        return [str(key) if isinstance(key, str) else f"{first}_id"]
    if call.name == "timestamps":
        return [str(opts.get("inserted_at", "inserted_at")), str(opts.get("updated_at", "updated_at"))]
    return []


# ---- our config file ----------------------------------------------------------------------------

@dataclass
class LintConfig:
    disable: set[str] = field(default_factory=set)  # rule ids
    severity: dict[str, str] = field(default_factory=dict)  # rule id -> error|warning|info|off
    since: int | None = None
    pg_version: int | None = None
    migration_lock: str | None = None
    exclude: list[str] = field(default_factory=list)  # globs on file names or paths
    data_migrations: list[str] = field(default_factory=lambda: ["data_migrations"])
    source: str | None = None  # which file it came from, for messages


_KEYS = {"disable", "severity", "since", "start_after", "pg_version", "migration_lock", "exclude",
         "data_migrations"}


def load_config(root: Path | None, explicit: Path | None = None) -> LintConfig:
    """Read the config file; InputError (one line) for anything malformed or unknown."""
    from tools.migrations.rules import EXCELLENT_MIGRATIONS, rule_ids

    path = explicit
    if path is None and root is not None:
        for name in (TOML_NAME, JSON_NAME):
            if (root / name).is_file():
                path = root / name
                break
    if path is None:
        return LintConfig()
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text).get("migrations", {})
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read config: {first}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the migrations config must be a table/object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InputError(f"{path}: unknown config key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(_KEYS))})")
    known = set(rule_ids())

    def ids(value: Any, key: str) -> set[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{path}: {key} must be a list of rule ids")
        out: set[str] = set()
        for v in value:
            if v in EXCELLENT_MIGRATIONS:
                out.update(EXCELLENT_MIGRATIONS[v])
            elif v in known:
                out.add(v)
            else:
                raise InputError(f"{path}: {key}: unknown rule {v!r}")
        return out

    cfg = LintConfig(source=str(path))
    if "disable" in data:
        cfg.disable = ids(data["disable"], "disable")
    severity = data.get("severity", {})
    if not isinstance(severity, dict):
        raise InputError(f"{path}: severity must map rule ids to error, warning, info or off")
    for rid, level in severity.items():
        if rid not in known:
            raise InputError(f"{path}: severity: unknown rule {rid!r}")
        if level not in ("error", "warning", "info", "off"):
            raise InputError(f"{path}: severity of {rid} must be error, warning, info or off")
        cfg.severity[rid] = level
    since = data.get("since", data.get("start_after"))
    if since is not None:
        cfg.since = parse_version(str(since), f"{path}: since")
    if "pg_version" in data:
        version = data["pg_version"]
        if not isinstance(version, int) or isinstance(version, bool) or not 9 <= version <= 40:
            raise InputError(f"{path}: pg_version must be a major version number such as 15")
        cfg.pg_version = version
    if "migration_lock" in data:
        lock = data["migration_lock"]
        if lock not in ("table_lock", "pg_advisory_lock", "false", False):
            raise InputError(f"{path}: migration_lock must be table_lock, pg_advisory_lock or false")
        cfg.migration_lock = "false" if lock is False else lock
    for key in ("exclude", "data_migrations"):
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{path}: {key} must be a list of strings")
            setattr(cfg, key, list(value))
    return cfg


def parse_version(text: str, what: str = "--since") -> int:
    digits = text.strip()
    if not digits.isdigit():
        raise InputError(f"{what} must be a migration version (digits, e.g. 20240101120000), "
                         f"not {text!r}")
    return int(digits)


def excellent_skips(excellent: dict[str, Any]) -> tuple[set[str], int | None]:
    """excellent_migrations' skip_checks (as our rule ids) and start_after."""
    from tools.migrations.rules import EXCELLENT_MIGRATIONS

    skips: set[str] = set()
    checks = excellent.get("skip_checks")
    if isinstance(checks, list):
        for c in checks:
            skips.update(EXCELLENT_MIGRATIONS.get(str(c), []))
    start = excellent.get("start_after")
    start_after = int(start) if isinstance(start, (str, int)) and str(start).isdigit() else None
    return skips, start_after
