from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import CreateIndexAct, DropIndexAct, MaintenanceAct
from tools.migrations.rules.base import Context, Example, Finding, Rule


def concurrent_actions(ctx: Context) -> list:
    """Statements PostgreSQL refuses to run inside a transaction block."""
    out = []
    for act in ctx.actions:
        if isinstance(act, (CreateIndexAct, DropIndexAct)) and act.concurrently:
            out.append(act)
        elif isinstance(act, MaintenanceAct) and act.concurrently and \
                act.kind in ("reindex", "detach_partition"):
            out.append(act)
    return out


class ConcurrentIndexInTransaction(Rule):
    """Fires once per migration that builds or drops an index concurrently (or runs REINDEX or
    DETACH PARTITION CONCURRENTLY) without `@disable_ddl_transaction true`."""

    id = "concurrent-index-in-transaction"
    title = "CONCURRENTLY inside the migration's transaction"
    severity = "error"
    lock = "none: PostgreSQL refuses the statement and the deploy fails"
    catches = "`concurrently: true` in a migration without `@disable_ddl_transaction true`."
    why = ("Ecto runs each migration in a transaction unless told not to, and PostgreSQL refuses "
           "CREATE INDEX CONCURRENTLY inside a transaction block: the migration fails.")
    safe = """
        @disable_ddl_transaction true
        @disable_migration_lock true

        def change do
          create index(:posts, [:slug], concurrently: true)
        end
    """
    excellent_migrations = ("index_concurrently_without_disable_ddl_transaction",)
    also_in = "squawk ban-concurrent-index-creation-in-transaction"
    fixable = True
    examples = [
        Example("@disable_migration_lock true\n\ndef change do\n"
                "  create index(:posts, [:slug], concurrently: true)\nend", fires=True),
        Example('def up do\n  execute "REINDEX INDEX CONCURRENTLY posts_slug_index"\nend', fires=True),
        Example("@disable_ddl_transaction true\n@disable_migration_lock true\n\ndef change do\n"
                "  create index(:posts, [:slug], concurrently: true)\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        if not ctx.in_transaction:
            return
        acts = concurrent_actions(ctx)
        if acts:
            yield self.finding(
                ctx, acts[0], "CONCURRENTLY cannot run inside a transaction block, and this migration "
                              "runs in one: add @disable_ddl_transaction true",
                fix="@disable_ddl_transaction true", fixable="attributes")
