from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import RenameTableAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text


class RenameTable(Rule):
    """Fires on `rename table(:a), to: table(:b)` and `ALTER TABLE … RENAME TO` for a table the
    migration did not create."""

    id = "rename-table"
    title = "Table renamed"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table, briefly (no rewrite)"
    catches = "`rename table(:posts), to: table(:articles)`."
    why = "Every node still running the old code queries the old table name and fails until the deploy finishes."
    safe = """
        # rename only the schema module and keep the table:
        defmodule MyApp.Article do
          use Ecto.Schema
          schema "posts" do
            ...
          end
        end
    """
    excellent_migrations = ("table_renamed",)
    also_in = "squawk renaming-table; strong_migrations rename_table"
    examples = [
        Example("def change do\n  rename table(:posts), to: table(:articles)\nend", fires=True),
        Example('def up do\n  execute "ALTER TABLE posts RENAME TO articles"\nend', fires=True),
        Example("def change do\n  rename index(:posts, [:slug], name: :old), to: :new_name\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(RenameTableAct):
            if ctx.existing(act.table):
                yield self.finding(
                    ctx, act, f"table {act.table} is renamed to {act.to}{described(act)}: code still running "
                              "during the deploy queries the old name and fails",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table, note=", briefly"),
                    fix=f"# no migration: keep `schema \"{act.table}\"` and rename only the module")
