from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddColumnAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text


class StoredGeneratedColumn(Rule):
    """Fires on `add …, generated: "ALWAYS AS (…) STORED"` (or `GENERATED ALWAYS AS … STORED`
    in execute) on a table the migration did not create."""

    id = "stored-generated-column"
    title = "Stored generated column added to an existing table"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while every row is rewritten"
    catches = "`add :search, :tsvector, generated: \"ALWAYS AS (to_tsvector('english', title)) STORED\"` on an existing table."
    why = "A stored generated column is computed and written for every existing row: a full rewrite under ACCESS EXCLUSIVE."
    safe = """
        # a plain column filled by a trigger, backfilled in batches, instead:
        alter table(:posts) do
          add :search, :tsvector
        end
    """
    also_in = "squawk adding-field-with-default; strong_migrations add_column_generated_stored; eugene E11"
    examples = [
        Example("def change do\n  alter table(:posts) do\n    add :search, :tsvector, "
                "generated: \"ALWAYS AS (to_tsvector('english', title)) STORED\"\n  end\nend", fires=True),
        Example("def change do\n  create table(:posts) do\n    add :title, :text\n    add :search, :tsvector, "
                "generated: \"ALWAYS AS (to_tsvector('english', title)) STORED\"\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddColumnAct):
            if act.column.generated_stored and ctx.existing(act.table):
                yield self.finding(
                    ctx, act, f"stored generated column {act.column.name} on existing table {act.table} "
                              "is computed for every row: the table is rewritten",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table),
                    fix="# add a plain column, fill it with a trigger, backfill in batches")
