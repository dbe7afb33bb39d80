from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddPrimaryKeyAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text, q


class PrimaryKeyWithoutIndex(Rule):
    """Fires on a primary key added to a table the migration did not create, by `add …,
    primary_key: true` in `alter table` or by `ADD PRIMARY KEY` without `USING INDEX`."""

    id = "primary-key-without-index"
    title = "Primary key added to an existing table"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while the index is built (and NOT NULL is checked)"
    catches = "`alter table(:events) do add :id, :bigserial, primary_key: true end`; `ADD PRIMARY KEY (id)`."
    why = ("Adding a primary key builds a unique index and checks NOT NULL on every row under "
           "ACCESS EXCLUSIVE. Build the unique index concurrently first, then attach it.")
    safe = """
        create unique_index(:events, [:id], concurrently: true)  # own migration

        execute "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_index",
                "ALTER TABLE events DROP CONSTRAINT events_pkey"
    """
    also_in = "squawk adding-serial-primary-key-field; eugene W14"
    examples = [
        Example('def up do\n  execute "ALTER TABLE events ADD PRIMARY KEY (id)"\nend', fires=True),
        Example('def up do\n  execute "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX '
                'events_id_index"\nend', fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddPrimaryKeyAct):
            if act.using_index or not ctx.existing(act.table):
                continue
            cols = ", ".join(q(c) for c in act.columns)
            index = f"{act.table}_{'_'.join(act.columns)}_index"
            yield self.finding(
                ctx, act, f"primary key on existing table {act.table} builds its index and checks every "
                          "row under ACCESS EXCLUSIVE",
                lock=lock_text("ACCESS EXCLUSIVE", act.table),
                fix=(f"create unique_index({q(act.table)}, [{cols}], concurrently: true)  # own migration\n\n"
                     f"execute \"ALTER TABLE {act.table} ADD CONSTRAINT {act.table}_pkey PRIMARY KEY USING INDEX {index}\",\n"
                     f"        \"ALTER TABLE {act.table} DROP CONSTRAINT {act.table}_pkey\""))
