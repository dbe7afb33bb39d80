from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import (
    CreateIndexAct, DropIndexAct, MaintenanceAct, SettingAct, UnanalysedAct,
)
from tools.migrations.rules.base import Context, Example, Finding, Rule
from tools.migrations.rules.concurrent_index_in_transaction import concurrent_actions


class ConcurrentIndexNotAlone(Rule):
    """Fires once per migration that has a concurrent index operation and anything else that
    changes the schema or data (settings such as lock_timeout and other concurrent index
    operations are fine company)."""

    id = "concurrent-index-not-alone"
    title = "Other work in a migration that builds an index concurrently"
    severity = "warning"
    lock = "none of its own: each statement runs and commits alone"
    catches = "A migration with `@disable_ddl_transaction true` for a concurrent index that also alters tables, adds constraints or changes data."
    why = ("Without the DDL transaction every statement commits on its own. If the index build "
           "fails (a duplicate for a unique index, a deadlock, a timeout) the statements before it "
           "stay applied but the migration is not recorded, so the next deploy runs them again and "
           "fails. Other DDL also loses the protection of lock_timeout set in after_begin.")
    safe = """
        # 1st migration: the schema change, in its transaction
        def change do
          alter table(:posts) do
            add :slug, :string
          end
        end

        # 2nd migration: only the index
        @disable_ddl_transaction true
        @disable_migration_lock true

        def change do
          create index(:posts, [:slug], concurrently: true)
        end
    """
    also_in = "ecto_sql guides/safe_migrations.md (\"nothing else in that migration\")"
    fixable = True
    examples = [
        Example("@disable_ddl_transaction true\n@disable_migration_lock true\n\ndef change do\n"
                "  alter table(:posts) do\n    add :slug, :string\n  end\n\n"
                "  create index(:posts, [:slug], concurrently: true)\nend", fires=True),
        Example("@disable_ddl_transaction true\n@disable_migration_lock true\n\ndef change do\n"
                "  create index(:posts, [:slug], concurrently: true)\n"
                "  drop index(:posts, [:title], concurrently: true)\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        conc = concurrent_actions(ctx)
        if not conc:
            return
        quiet = (SettingAct, UnanalysedAct)
        for act in ctx.actions:
            if isinstance(act, quiet) or act in conc:
                continue
            if isinstance(act, (CreateIndexAct, DropIndexAct, MaintenanceAct)) and act.concurrently:
                continue
            if isinstance(act, CreateIndexAct) and not ctx.existing(act.table):
                continue
            yield self.finding(
                ctx, conc[0], "this migration builds an index concurrently and does other work too: if the "
                          "index fails, the work before it stays applied and the migration reruns; put "
                          "the concurrent index in a migration of its own",
                fixable="split-concurrent", other_line=act.line)
            return
