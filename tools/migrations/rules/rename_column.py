from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import RenameColumnAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q


class RenameColumn(Rule):
    """Fires on `rename table(:t), :a, to: :b` and `RENAME COLUMN` on a table the migration
    did not create."""

    id = "rename-column"
    title = "Column renamed"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table, briefly (no rewrite)"
    catches = "`rename table(:users), :name, to: :full_name`."
    why = ("The rename is instant, but every node still running the old code selects the old "
           "name and fails until the deploy finishes: errors for the length of the rollout.")
    safe = """
        # keep the column, rename only the field:
        field :full_name, :string, source: :name

        # or phase it: add the new column, write both, backfill, switch reads, drop the old one
    """
    excellent_migrations = ("column_renamed",)
    also_in = "squawk renaming-column; strong_migrations rename_column"
    examples = [
        Example("def change do\n  rename table(:users), :name, to: :full_name\nend", fires=True),
        Example('def up do\n  execute "ALTER TABLE users RENAME COLUMN name TO full_name"\nend', fires=True),
        Example("def change do\n  create table(:users) do\n    add :name, :string\n  end\n\n"
                "  rename table(:users), :name, to: :full_name\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(RenameColumnAct):
            if ctx.existing(act.table):
                yield self.finding(
                    ctx, act, f"{act.table}.{act.column} is renamed to {act.to}{described(act)}: code still "
                              "running during the deploy queries the old name and fails",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table, note=", briefly"),
                    fix=f"# no migration: in the schema\nfield {q(act.to)}, <type>, source: {q(act.column)}")
