from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import (
    AddCheckAct, AddColumnAct, AddForeignKeyAct, CreateIndexAct, CreateTableAct, RenameColumnAct,
    RenameTableAct,
)
from tools.migrations.rules.base import Context, Example, Finding, Rule

MAX_BYTES = 63  # NAMEDATALEN - 1


class IdentifierTooLong(Rule):
    """Fires on table, column, index and constraint names longer than 63 bytes, including the
    names Ecto makes up: `<table>_<columns>_index` for indexes and `<table>_<column>_fkey` for
    foreign keys. Ecto does not truncate; PostgreSQL does, silently."""

    id = "identifier-too-long"
    title = "Name longer than PostgreSQL's 63 bytes"
    severity = "warning"
    lock = "none of its own"
    catches = "`create unique_index(:organization_memberships, [:organization_id, :user_id, :role])` (70 bytes)."
    why = ("PostgreSQL cuts names to 63 bytes without an error. Two long names can collide after "
           "the cut, and Ecto's `unique_constraint/3` compares the full name it expects with the "
           "truncated one in the error, so a violation raises instead of becoming a changeset error.")
    safe = """
        create unique_index(:organization_memberships, [:organization_id, :user_id, :role],
                            name: :org_memberships_org_user_role_index)
        # and unique_constraint(..., name: :org_memberships_org_user_role_index) in the changeset
    """
    also_in = "squawk identifier-too-long"
    examples = [
        Example("def change do\n  create unique_index(:organization_memberships_archive, "
                "[:organization_id, :user_id, :role])\nend", fires=True),
        Example("def change do\n  create unique_index(:organization_memberships_archive, "
                "[:organization_id, :user_id, :role], name: :org_members_archive_uniq)\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.actions:
            names: list[tuple[str, str]] = []
            if isinstance(act, CreateTableAct):
                names.append(("table", act.table or ""))
                names += [("column", c.name) for c in act.columns]
            elif isinstance(act, AddColumnAct):
                names.append(("column", act.column.name))
            elif isinstance(act, CreateIndexAct):
                names.append(("index", act.name))
            elif isinstance(act, AddForeignKeyAct):
                names.append(("foreign key", act.fk.name))
            elif isinstance(act, AddCheckAct):
                names.append(("constraint", act.name))
            elif isinstance(act, RenameTableAct):
                names.append(("table", act.to))
            elif isinstance(act, RenameColumnAct):
                names.append(("column", act.to))
            for kind, name in names:
                if "@" in name or "(" in name:
                    continue  # only known at run time
                size = len(name.encode("utf-8"))
                if size > MAX_BYTES:
                    yield self.finding(
                        ctx, act, f"{kind} name {name} is {size} bytes; PostgreSQL silently cuts it to "
                                  f"{name.encode()[:MAX_BYTES].decode(errors='ignore')}",
                        fix=f"name: :{name[:40].rstrip('_')}  # an explicit name of 63 bytes or less")
