from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddUniqueAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text, q


class UniqueConstraint(Rule):
    """Fires on `ADD CONSTRAINT … UNIQUE (…)` (and an inline UNIQUE on ADD COLUMN) without
    `USING INDEX` on a table the migration did not create. Ecto has no DSL for unique
    constraints, so this comes from execute; `create unique_index` is covered by
    index-not-concurrent."""

    id = "unique-constraint-without-index"
    title = "Unique constraint that builds its own index"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while the unique index is built: reads and writes wait"
    catches = "`execute \"ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)\"`."
    why = ("ADD CONSTRAINT … UNIQUE builds a unique index under ACCESS EXCLUSIVE. Building the "
           "index concurrently first and attaching it with USING INDEX takes the strong lock "
           "only for a moment.")
    safe = """
        # migration 1
        @disable_ddl_transaction true
        @disable_migration_lock true

        def change do
          create unique_index(:users, [:email], concurrently: true)
        end

        # migration 2
        execute "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_index",
                "ALTER TABLE users DROP CONSTRAINT users_email_key"
    """
    also_in = "squawk disallowed-unique-constraint; strong_migrations add_unique_constraint; eugene E7"
    examples = [
        Example('def up do\n  execute "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)"\nend',
                fires=True),
        Example('def up do\n  execute "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX '
                'users_email_index"\nend', fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddUniqueAct):
            if act.using_index or not ctx.existing(act.table):
                continue
            cols = ", ".join(q(c) for c in act.columns)
            name = act.name or f"{act.table}_{'_'.join(act.columns)}_key"
            index = f"{act.table}_{'_'.join(act.columns)}_index"
            yield self.finding(
                ctx, act, f"unique constraint {name} on existing table {act.table} builds its index under "
                          "ACCESS EXCLUSIVE",
                lock=lock_text("ACCESS EXCLUSIVE", act.table),
                fix=(f"create unique_index({q(act.table)}, [{cols}], concurrently: true)  # own migration\n\n"
                     f"execute \"ALTER TABLE {act.table} ADD CONSTRAINT {name} UNIQUE USING INDEX {index}\",\n"
                     f"        \"ALTER TABLE {act.table} DROP CONSTRAINT {name}\""))
