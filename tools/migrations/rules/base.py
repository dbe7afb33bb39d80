"""What a migration rule is, the finding it reports, and what it may look at.

Every rule is documented the way ruff documents its rules: an id, what it catches, why it
matters, the lock the operation takes, a severity, the safe Ecto alternative as code, and
examples that are also its tests (tests/test_migration_rules.py runs each one).

Severities: `error` will lock or rewrite a production table, or fail the deploy; `warning` is a
hazard that depends on how the app is deployed (old code still running, partial failure);
`info` is style (Ecto's defaults as squawk would report them) or something that could not be
checked.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, TypeVar

from tools.ecto.migration import Migration
from tools.migrations.actions import Action

if TYPE_CHECKING:
    from tools.migrations.project import Project
    from tools.migrations.schema import SchemaState

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

# What each lock mode stops other sessions from doing (PostgreSQL "Explicit Locking").
BLOCKS = {
    "ACCESS EXCLUSIVE": "blocks all reads and writes",
    "EXCLUSIVE": "blocks all writes and row locks; plain reads continue",
    "SHARE ROW EXCLUSIVE": "blocks INSERT, UPDATE and DELETE",
    "SHARE": "blocks INSERT, UPDATE and DELETE",
    "SHARE UPDATE EXCLUSIVE": "blocks other DDL and VACUUM; reads and writes continue",
    "ROW EXCLUSIVE": "blocks CREATE INDEX, VACUUM FULL and other DDL; reads and writes continue",
}


def lock_text(mode: str, *tables: str | None, note: str = "") -> str:
    names = ", ".join(t for t in dict.fromkeys(tables) if t) or "the table"
    return f"{mode} on {names} ({BLOCKS.get(mode, '')}{note})"


@dataclass
class Finding:
    rule: str
    severity: str
    file: str
    line: int
    message: str
    lock: str | None = None
    fix: str | None = None
    stmt_line: int = 0  # the enclosing statement, for suppression comments above it
    fixable: str | None = field(default=None, compare=False)  # what fix.py can do mechanically
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "file": self.file,
                "line": self.line, "message": self.message, "lock": self.lock, "fix": self.fix}


@dataclass
class Settings:
    """What the linter knows about the deployment target."""

    pg_version: int = 14
    migration_lock: str = "table_lock"  # table_lock | pg_advisory_lock | false
    lock_timeout_configured: bool = False  # the repo's parameters set lock_timeout


@dataclass
class Context:
    migration: Migration
    file: str
    actions: list[Action]
    state: "SchemaState"  # before this migration
    settings: Settings = field(default_factory=Settings)
    project: "Project | None" = None
    final: "SchemaState | None" = None  # after every migration the run read
    data_migration: bool = False  # lives in a data-migrations directory

    def __post_init__(self) -> None:
        from tools.migrations.actions import CreateTableAct

        self.created = {a.table for a in self.actions if isinstance(a, CreateTableAct) and a.table}

    @property
    def in_transaction(self) -> bool:
        return not self.migration.disable_ddl_transaction

    def existing(self, table: str | None) -> bool:
        """The table was there before this migration, so it may hold rows and serve traffic."""
        return table is not None and table not in self.created

    def of(self, kind: type[A]) -> Iterator[A]:
        return (a for a in self.actions if isinstance(a, kind))


A = TypeVar("A", bound=Action)


@dataclass(frozen=True)
class Example:
    """A migration the rule must (fires=True) or must not (fires=False) report.

    `source` is the migration's body (the module wraps it) unless it starts with `defmodule`.
    `before` are earlier migrations' bodies, read for history; `options` set Settings fields
    plus `file` (a path, e.g. under data_migrations/) and `schema` ({table: [columns]} the
    app's Ecto schemas still map)."""

    source: str
    fires: bool
    note: str = ""
    severity: str | None = None
    count: int | None = None
    before: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


class Rule:
    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[str]
    lock: ClassVar[str]  # the lock the operation takes, in words
    catches: ClassVar[str]
    why: ClassVar[str]
    safe: ClassVar[str]  # the safe Ecto alternative, as code
    excellent_migrations: ClassVar[tuple[str, ...]] = ()  # check names suppressions may use
    also_in: ClassVar[str] = ""  # the same check elsewhere: squawk, strong_migrations, eugene
    fixable: ClassVar[bool] = False
    examples: ClassVar[list[Example]] = []

    def check(self, ctx: Context) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, ctx: Context, act: Action | None, message: str, *, lock: str | None = None,
                fix: str | None = None, severity: str | None = None, line: int | None = None,
                fixable: str | None = None, **data: Any) -> Finding:
        at = line if line is not None else (act.line if act is not None else 1)
        return Finding(rule=self.id, severity=severity or self.severity, file=ctx.file, line=at,
                       message=message, lock=lock, fix=fix,
                       stmt_line=act.stmt_line if act is not None else at,
                       fixable=fixable, data=data)

    @classmethod
    def doc(cls) -> dict[str, Any]:
        return {
            "id": cls.id, "title": cls.title, "severity": cls.severity, "lock": cls.lock,
            "catches": cls.catches, "why": cls.why, "safe": inspect.cleandoc(cls.safe),
            "excellent_migrations": list(cls.excellent_migrations), "also_in": cls.also_in,
            "details": inspect.cleandoc(cls.__doc__ or ""), "fixable": cls.fixable,
        }


# ---- helpers rules share ----------------------------------------------------------------------

def q(name: str | None) -> str:
    """An identifier as it goes in Elixir source: `:posts`, or `"odd-name"` when it must be."""
    if name and name.replace("_", "a").isalnum() and not name[0].isdigit():
        return f":{name}"
    return f'"{name}"'


def described(act: Action) -> str:
    """`execute` SQL is named as such, so the author knows which statement a finding means."""
    return " (in execute)" if act.raw else ""
