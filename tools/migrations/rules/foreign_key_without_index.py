from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddForeignKeyAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, q


class ForeignKeyWithoutIndex(Rule):
    """Fires on a foreign key whose column never gets an index that starts with it, judged on
    the schema after every migration the run read (so an index added in a later migration
    counts). A column dropped later is not reported."""

    id = "foreign-key-without-index"
    title = "Foreign key column without an index"
    severity = "warning"
    lock = "none at migration time"
    catches = "`add :post_id, references(:posts)` with no `create index(:comments, [:post_id])`."
    why = ("Preloads and joins filter on the foreign key column, and every DELETE or key UPDATE "
           "on the parent scans the child table to enforce the constraint: without an index both "
           "are sequential scans.")
    safe = """
        create index(:comments, [:post_id])   # concurrently: true when the table exists
    """
    also_in = "eugene E15"
    examples = [
        Example("def change do\n  create table(:comments) do\n    add :post_id, references(:posts)\n"
                "  end\nend", fires=True),
        Example("def change do\n  create table(:comments) do\n    add :post_id, references(:posts)\n"
                "  end\n\n  create index(:comments, [:post_id, :inserted_at])\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        final = ctx.final
        if final is None:
            return
        for act in ctx.of(AddForeignKeyAct):
            column = act.fk.columns[0] if act.fk.columns else None
            if column is None or final.column(act.table, column) is None:
                continue
            if final.has_leading_index(act.table, column):
                continue
            yield self.finding(ctx, act, f"{act.table}.{column} references {act.fk.ref_table} but no "
                                         f"index starts with it: lookups by {column} and deletes on "
                                         f"{act.fk.ref_table} scan {act.table}",
                               fix=f"create index({q(act.table)}, [{q(column)}])")
