from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AlterTypeAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text
from tools.migrations.rules.column_type_change import (
    changes_null_or_default_only, current_type, is_primary_key, rewrite_needed,
)


class PrimaryKeyTypeChange(Rule):
    """Fires on a type change of a primary key column (known from earlier migrations, or a
    column named `id` when nothing is known) that needs a rewrite, typically integer to bigint."""

    id = "primary-key-type-change"
    title = "Primary key type change"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table and on every table whose foreign keys reference it, during the rewrite"
    catches = "`modify :id, :bigint` on an existing table whose id is a serial integer."
    why = ("Changing a primary key's type rewrites the table and its indexes, and every foreign "
           "key column that references it must change too: each referencing table is rewritten "
           "as well, all under ACCESS EXCLUSIVE.")
    safe = """
        # a new bigint column kept in sync by a trigger, backfilled in batches, a unique index
        # built concurrently, then a short swap (rename + ADD PRIMARY KEY USING INDEX) in a
        # maintenance step; the same for each referencing column
        alter table(:events) do
          add :id_big, :bigint
        end
    """
    excellent_migrations = ("column_type_changed",)
    also_in = "strong_migrations change_column; squawk changing-column-type"
    examples = [
        Example("def change do\n  alter table(:events) do\n    modify :id, :bigint\n  end\nend",
                fires=True,
                before=("def change do\n  create table(:events, primary_key: false) do\n"
                        "    add :id, :serial, primary_key: true\n  end\nend",)),
        Example("def change do\n  alter table(:events) do\n    modify :id, :bigint\n  end\nend",
                fires=True, note="nothing known: a column named id is taken to be the key"),
        Example("def change do\n  alter table(:events) do\n    modify :count, :bigint, from: :integer\n  end\nend",
                fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AlterTypeAct):
            if not ctx.existing(act.table) or act.new is None or not is_primary_key(ctx, act):
                continue
            if changes_null_or_default_only(ctx, act):
                continue
            old = current_type(ctx, act)
            if old is not None:
                rewrite, why = rewrite_needed(old, act.new, ctx.settings.pg_version)
                if rewrite is not True:
                    continue
            else:
                why = f"changing it to {act.new} converts every value"
            yield self.finding(
                ctx, act, f"primary key {act.table}.{act.column}: {why}; the table, its indexes and "
                          "every referencing foreign key column are rewritten under ACCESS EXCLUSIVE",
                lock=lock_text("ACCESS EXCLUSIVE", act.table, note=" and on every referencing table"),
                fix="# new column + trigger + batched backfill + concurrent unique index, then swap")
