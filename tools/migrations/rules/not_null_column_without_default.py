from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import SERIAL_TYPES, AddColumnAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, q


class NotNullColumnWithoutDefault(Rule):
    """Fires on a `null: false` column without a default added to a table the migration did
    not create, including `timestamps()` inside `alter table`. Serial, identity and generated
    columns fill themselves and are left to volatile-default."""

    id = "not-null-column-without-default"
    title = "NOT NULL column without a default on an existing table"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table, briefly, before the statement fails"
    catches = "`add :status, :string, null: false` in `alter table` on a table that has rows."
    why = ("Existing rows would hold NULL in a NOT NULL column, so PostgreSQL rejects the ALTER "
           "on any table with rows: the deploy fails (after passing on an empty dev database).")
    safe = """
        alter table(:orders) do
          add :status, :string, null: false, default: "pending"  # a constant: no rewrite
        end
    """
    also_in = "squawk adding-required-field"
    examples = [
        Example("def change do\n  alter table(:orders) do\n    add :status, :string, null: false\n  end\nend",
                fires=True),
        Example("def change do\n  alter table(:orders) do\n    timestamps()\n  end\nend", fires=True, count=2),
        Example("def change do\n  alter table(:orders) do\n    add :status, :string, null: false, "
                "default: \"pending\"\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddColumnAct):
            col = act.column
            if not col.not_null or col.default is not None or not ctx.existing(act.table):
                continue
            if col.identity or col.generated_stored or (col.type and col.type.name in SERIAL_TYPES):
                continue
            yield self.finding(
                ctx, act, f"NOT NULL column {col.name} without a default on existing table "
                          f"{act.table}{described(act)}: the ALTER fails as soon as the table has a row",
                fix=f"add {q(col.name)}, <type>, null: false, default: <constant>")
