"""Recommended indexes as Ecto migration files, one index per migration.

Each module builds its index concurrently, so it carries `@disable_ddl_transaction true` (CREATE
INDEX CONCURRENTLY cannot run in a transaction) and `@disable_migration_lock true` (it would wait
forever for the migration lock's own transaction), and does nothing else: a concurrent build
that fails leaves an INVALID index behind, and a migration doing one thing is simple to retry.
The `create index(...)` line comes from tools.explain.ecto_fix, so the index gets the name
Ecto gives it by default and the SQL we print builds the very same index.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence

from tools.errors import InputError
from tools.explain.ecto_fix import elixir_atom, index_ecto
from tools.indexes.candidates import IndexDef
from tools.indexes.catalog import ExistingIndex

DEFAULT_REPO_MODULE = "MyApp.Repo"
_MIGRATION_MODULE = re.compile(r"^\s*defmodule\s+([A-Z][\w.]*)\.Migrations\.[A-Z]\w*\s+do", re.M)
_TIMESTAMP = re.compile(r"^(\d{14})_")


def repo_module(project: Path | None) -> str:
    """`Pulse.Repo` from the project's migrations (`defmodule Pulse.Repo.Migrations.X`), else MyApp.Repo."""
    if project is None:
        return DEFAULT_REPO_MODULE
    seen: Counter[str] = Counter()
    for path in sorted(Path(project).glob("priv/*/migrations/*.exs")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in _MIGRATION_MODULE.finditer(text):
            seen[match.group(1)] += 1
    return seen.most_common(1)[0][0] if seen else DEFAULT_REPO_MODULE


def camelize(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", snake) if part)


def migration_name(idx: IndexDef, name: str | None = None) -> str:
    """`create_events_account_id_occurred_at_index`: the file name's part after the timestamp."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", f"create_{name or idx.name}".lower())).strip("_")


def migration_module(idx: IndexDef, *, repo: str = DEFAULT_REPO_MODULE, comments: Sequence[str] = (),
                     name: str | None = None) -> str:
    """A complete migration file that builds the index concurrently and safely. `name` is given
    only when Ecto's default name is taken (same columns, another predicate)."""
    line = index_ecto(idx.table, list(idx.keys), where=idx.where, include=list(idx.include) or None,
                      unique=idx.unique, using=None if idx.using == "btree" else idx.using,
                      prefix=idx.schema, concurrently=True)
    if name and name != idx.name:
        line = line.replace("concurrently: true", f"name: {elixir_atom(name)}, concurrently: true")
    lines = [
        f"defmodule {repo}.Migrations.{camelize(migration_name(idx, name))} do",
        "  use Ecto.Migration",
        "",
        "  # CREATE INDEX CONCURRENTLY cannot run inside a transaction, and would wait forever on",
        "  # Ecto's migration lock: this migration runs without both, and does nothing else.",
        "  @disable_ddl_transaction true",
        "  @disable_migration_lock true",
        "",
        "  def change do",
    ]
    lines += [f"    # {c}" for comment in comments for c in comment.splitlines()]
    lines += [f"    {line}", "  end", "end", ""]
    return "\n".join(lines)


def drop_migration_name(index_name: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", f"drop_{index_name}".lower())).strip("_")


def drop_migration_module(table: str, index: ExistingIndex, *, schema: str = "public",
                          repo: str = DEFAULT_REPO_MODULE) -> str:
    """The migration that drops an index made redundant, concurrently (DROP INDEX takes an ACCESS
    EXCLUSIVE lock otherwise). It lists the index's definition, so Ecto can rebuild it on rollback."""
    line = index_ecto(table, list(index.keys), where=index.where, include=list(index.include) or None,
                      unique=index.unique, using=None if index.method == "btree" else index.method,
                      prefix=schema, concurrently=True)
    line = "drop " + line.removeprefix("create ").replace(
        "concurrently: true", f"name: {elixir_atom(index.name)}, concurrently: true")
    return "\n".join([
        f"defmodule {repo}.Migrations.{camelize(drop_migration_name(index.name))} do",
        "  use Ecto.Migration",
        "",
        "  # DROP INDEX CONCURRENTLY cannot run inside a transaction either, and would wait on Ecto's",
        "  # migration lock the same way.",
        "  @disable_ddl_transaction true",
        "  @disable_migration_lock true",
        "",
        "  def change do",
        f"    {line}",
        "  end",
        "end",
        "",
    ])


def _latest_timestamp(directories: Sequence[Path]) -> str | None:
    stamps = []
    for d in directories:
        if d.is_dir():
            stamps += [m.group(1) for p in d.glob("*.exs") if (m := _TIMESTAMP.match(p.name))]
    return max(stamps) if stamps else None


def timestamps(count: int, directories: Sequence[Path] = (), now: datetime | None = None) -> list[str]:
    """Ecto's `YYYYMMDDHHMMSS` (UTC), one second apart, and later than every existing migration."""
    start = (now or datetime.now(timezone.utc)).replace(microsecond=0, tzinfo=None)
    latest = _latest_timestamp(directories)
    if latest:
        after = datetime.strptime(latest, "%Y%m%d%H%M%S") + timedelta(seconds=1)
        start = max(start, after)
    return [(start + timedelta(seconds=i)).strftime("%Y%m%d%H%M%S") for i in range(count)]


def write_migrations(modules: Sequence[tuple[str, str]], directory: Path,
                     now: datetime | None = None) -> list[Path]:
    """Write each (name, module text) as `<timestamp>_<name>.exs` in `directory`, in order; the name
    is the migration's in snake case (`create_events_account_id_index`)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"--write-migrations {directory}: not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {directory}: {exc.strerror}") from None
    paths = []
    for (name, text), stamp in zip(modules, timestamps(len(modules), [directory], now)):
        slug = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", name.lower())).strip("_")
        path = directory / f"{stamp}_{slug}.exs"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
        paths.append(path)
    return paths
