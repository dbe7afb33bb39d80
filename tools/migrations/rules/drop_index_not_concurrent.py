from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import CreateIndexAct, DropIndexAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text


class DropIndexNotConcurrent(Rule):
    """Fires on `drop index(...)` (or `DROP INDEX` in execute) without concurrently, unless the
    same migration created that index. The drop itself is quick; the danger is the queue: it
    waits for every running query on the table, and everything that arrives meanwhile waits
    behind it."""

    id = "drop-index-not-concurrent"
    title = "Index dropped without CONCURRENTLY"
    severity = "warning"
    lock = "ACCESS EXCLUSIVE on the table until the drop is done: reads and writes queue behind it"
    catches = "`drop index(...)` / `drop_if_exists index(...)` without `concurrently: true`."
    why = ("DROP INDEX needs ACCESS EXCLUSIVE on the table. Behind one long-running query it "
           "waits, and every query that arrives after it waits too: a short outage.")
    safe = """
        @disable_ddl_transaction true
        @disable_migration_lock true

        def change do
          drop index(:posts, [:slug], concurrently: true)
        end
    """
    excellent_migrations = ("index_not_concurrently",)
    also_in = "squawk require-concurrent-index-deletion; strong_migrations remove_index (opt-in)"
    examples = [
        Example("def change do\n  drop index(:posts, [:slug])\nend", fires=True),
        Example('def up do\n  execute "DROP INDEX posts_slug_index"\nend', fires=True),
        Example("@disable_ddl_transaction true\n@disable_migration_lock true\n\n"
                "def change do\n  drop_if_exists index(:posts, [:slug], concurrently: true)\nend",
                fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        made_here = {a.name for a in ctx.of(CreateIndexAct)}
        for act in ctx.of(DropIndexAct):
            if act.concurrently or act.name in made_here:
                continue
            table = act.table or ctx.state.index_table.get(act.name)
            if table is not None and not ctx.existing(table):
                continue
            yield self.finding(
                ctx, act, f"index {act.name} is dropped without concurrently{described(act)}: "
                          f"the drop waits for running queries on {table or 'its table'} and blocks all that come after",
                lock=lock_text("ACCESS EXCLUSIVE", table or "the indexed table"),
                fix="@disable_ddl_transaction true\n@disable_migration_lock true\n\n"
                    f"# drop index(..., concurrently: true) in a migration of its own")
