"""Fixes written twice: as SQL, and as the Ecto code that produces the same change.

Index fixes follow shared/reference/ecto-migrations.md: Ecto names an index
`<table>_<col1>_<col2>_index` (non-word characters become `_`, trailing `_` trimmed), passes
string columns through raw (so expression keys are written `"lower(email)"`, no fragment), and a
`concurrently: true` index needs `@disable_ddl_transaction true` plus `@disable_migration_lock true`,
otherwise CREATE INDEX CONCURRENTLY waits forever on the migration lock's own transaction.
The SQL uses the same name Ecto would, so either route produces the same index.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from tools.explain.findings import Fix

APP_MODULE = "MyApp"  # placeholder: the analyser does not know the application's module name
APP_ATOM = "my_app"

_PLAIN_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_ELIXIR_ATOM = re.compile(r"^[a-z_][a-zA-Z0-9_]*[?!]?$")
# Words that cannot be bare identifiers (column-name keywords such as "position" can).
_NEEDS_QUOTES = set(RESERVED_KEYWORDS) | set(TYPE_FUNC_NAME_KEYWORDS)


def quote_ident(name: str) -> str:
    if _PLAIN_IDENT.match(name) and name not in _NEEDS_QUOTES:
        return name
    return '"' + name.replace('"', '""') + '"'


def is_column_name(key: str) -> bool:
    """A bare column (an Ecto atom), as opposed to an expression or `col opclass` (an Ecto string)."""
    return bool(_COLUMN_NAME.match(key))


def ecto_index_name(table: str, columns: Sequence[str]) -> str:
    """Ecto's `default_index_name/1`: table, columns and "index" joined by `_`."""
    parts = [table, *columns, "index"]
    return "_".join(re.sub(r"[^\w]", "_", str(p)).rstrip("_") for p in parts)


def elixir_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("#{", "\\#{")
    return f'"{escaped}"'


def elixir_atom(name: str) -> str:
    return f":{name}" if _ELIXIR_ATOM.match(name) else f":{elixir_string(name)}"


def _ecto_table(table: str) -> str:
    return elixir_atom(table) if _ELIXIR_ATOM.match(table) else elixir_string(table)


def _ecto_column(key: str) -> str:
    return elixir_atom(key) if is_column_name(key) else elixir_string(key)


def _sql_column(key: str) -> str:
    return quote_ident(key) if is_column_name(key) else key


def index_sql(
    table: str,
    columns: Sequence[str],
    *,
    where: str | None = None,
    include: Sequence[str] | None = None,
    unique: bool = False,
    using: str | None = None,
    prefix: str | None = None,
    concurrently: bool = True,
    name: str | None = None,
) -> str:
    """`CREATE INDEX CONCURRENTLY tickets_customer_id_index ON tickets (customer_id);`"""
    name = name or ecto_index_name(table, columns)
    target = quote_ident(table)
    if prefix and prefix != "public":
        target = f"{quote_ident(prefix)}.{target}"
    sql = "CREATE " + ("UNIQUE " if unique else "") + "INDEX " + ("CONCURRENTLY " if concurrently else "")
    sql += f"{quote_ident(name)} ON {target}"
    if using:
        sql += f" USING {using}"
    sql += f" ({', '.join(_sql_column(c) for c in columns)})"
    if include:
        sql += f" INCLUDE ({', '.join(quote_ident(c) for c in include)})"
    if where:
        sql += f" WHERE {where}"
    return sql + ";"


def index_ecto(
    table: str,
    columns: Sequence[str],
    *,
    where: str | None = None,
    include: Sequence[str] | None = None,
    unique: bool = False,
    using: str | None = None,
    prefix: str | None = None,
    concurrently: bool = True,
) -> str:
    """`create index(:tickets, [:customer_id], concurrently: true)`"""
    opts: list[str] = []
    if prefix and prefix != "public":
        opts.append(f"prefix: {elixir_string(prefix)}")
    if where:
        opts.append(f"where: {elixir_string(where)}")
    if include:
        opts.append(f"include: [{', '.join(_ecto_column(c) for c in include)}]")
    if using:
        opts.append(f"using: {elixir_string(using)}")
    if concurrently:
        opts.append("concurrently: true")
    fun = "unique_index" if unique else "index"
    args = [_ecto_table(table), f"[{', '.join(_ecto_column(c) for c in columns)}]", *opts]
    return f"create {fun}({', '.join(args)})"


def migration_module(
    name: str, body: Sequence[str], *, concurrent: bool = True, comment: str | None = None
) -> str:
    """A whole migration file, so the attributes a concurrent index needs cannot be forgotten."""
    module = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)
    lines = [f"# priv/repo/migrations/<timestamp>_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}.exs"]
    lines.append(f"defmodule {APP_MODULE}.Repo.Migrations.{module} do")
    lines.append("  use Ecto.Migration")
    if concurrent:
        lines.append("  # CONCURRENTLY cannot run in a transaction, and would wait forever on Ecto's")
        lines.append("  # migration lock; keep this migration to this one statement.")
        lines.append("  @disable_ddl_transaction true")
        lines.append("  @disable_migration_lock true")
    lines.append("")
    lines.append("  def change do")
    if comment:
        lines.extend(f"    # {c}" for c in comment.splitlines())
    lines.extend(f"    {line}" for line in body)
    lines.append("  end")
    lines.append("end")
    return "\n".join(lines)


def index_fix(
    table: str,
    columns: Sequence[str],
    *,
    where: str | None = None,
    include: Sequence[str] | None = None,
    unique: bool = False,
    using: str | None = None,
    prefix: str | None = None,
    comment: str | None = None,
    extra_sql: Sequence[str] = (),
    extra_ecto: Sequence[str] = (),
) -> Fix:
    """An index as SQL and as a complete Ecto migration. `extra_*` come first (CREATE EXTENSION)."""
    opts = dict(where=where, include=include, unique=unique, using=using, prefix=prefix)
    sql = "\n".join([*extra_sql, index_sql(table, columns, **opts)])
    ecto_line = index_ecto(table, columns, **opts)
    name = "create_" + ecto_index_name(table, columns)
    ecto = migration_module(name, [*extra_ecto, ecto_line], comment=comment)
    return Fix(sql=sql, ecto=ecto)


def indexes_fix(specs: Sequence[dict], *, comment: str | None = None) -> Fix:
    """Several indexes (one per OR branch, say): one SQL statement and one migration each."""
    sqls, ectos = [], []
    for spec in specs:
        one = index_fix(**spec, comment=comment)
        sqls.append(one.sql or "")
        ectos.append(one.ecto or "")
    return Fix(sql="\n".join(sqls), ecto="\n\n".join(ectos))


# -- settings -------------------------------------------------------------------------------


def format_kb(kb: float) -> str:
    """A memory size the way postgresql.conf spells it: '320kB', '64MB', '2GB'."""
    if kb < 1024:
        return f"{max(kb, 0):.0f}kB"
    mb = math.ceil(kb / 1024)
    if mb >= 1024 and mb % 1024 == 0:
        return f"{mb // 1024}GB"
    return f"{mb}MB"


def suggest_mem_kb(
    needed_kb: float, *, floor_kb: float = 8 * 1024, ceiling_kb: float = 4 * 1024 * 1024
) -> float:
    """Round a memory need up to a power of two in MB, within sane bounds: settings like these
    are easier to reason about (and to raise again) in round numbers."""
    needed_mb = max(needed_kb, floor_kb) / 1024
    mb = 2 ** math.ceil(math.log2(max(needed_mb, 1)))
    return min(mb * 1024, ceiling_kb)


def parse_mem_setting(value) -> float | None:
    """'4MB' / '65536kB' / '1GB' / 4096 (kB) from a plan's Settings, in kB."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kMGT]?B)?\s*", str(value))
    if not m:
        return None
    factor = {"kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3, None: 1}[m.group(2)]
    return float(m.group(1)) * factor


def setting_fix(settings: dict[str, str], *, why: str | None = None) -> Fix:
    """Session/role settings as SQL, and in Ecto both per query (SET LOCAL) and per repo config."""
    assignments = [(k, v) for k, v in settings.items()]
    sql_lines = [f"SET {k} = {_sql_setting_value(v)};" for k, v in assignments]
    sql_lines[0] += "  -- this session only"
    sql_lines.append("-- or for the application's database role (new connections pick it up):")
    sql_lines += [
        f"ALTER ROLE my_app_user SET {k} = {_sql_setting_value(v)};  -- your app's role" for k, v in assignments
    ]
    ecto = []
    if why:
        ecto.append(f"# {why}")
    ecto.append("# For this query only: SET LOCAL lasts until the transaction ends.")
    ecto.append("Repo.transaction(fn ->")
    ecto += [f'  Repo.query!("SET LOCAL {k} = {_sql_setting_value(v)}")' for k, v in assignments]
    ecto.append("  # ... run the query here")
    ecto.append("end)")
    ecto.append("")
    ecto.append("# Or for every connection of the repo, in config/runtime.exs:")
    params = ", ".join(f"{k}: {elixir_string(str(v))}" for k, v in assignments)
    ecto.append(f"config :{APP_ATOM}, {APP_MODULE}.Repo, parameters: [{params}]")
    return Fix(sql="\n".join(sql_lines), ecto="\n".join(ecto))


def _sql_setting_value(value) -> str:
    text = str(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return text
    return "'" + text.replace("'", "''") + "'"


def execute_migration(
    name: str, up: Sequence[str], down: Sequence[str] | None = None, *, concurrent: bool = False
) -> str:
    """A migration of raw statements via `execute/2`, reversible when `down` is given."""
    body = []
    for i, stmt in enumerate(up):
        rev = down[i] if down and i < len(down) else None
        body.append(f"execute {elixir_string(stmt)}" + (f", {elixir_string(rev)}" if rev is not None else ""))
    return migration_module(name, body, concurrent=concurrent)
