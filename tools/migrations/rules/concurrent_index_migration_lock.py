from __future__ import annotations

from typing import Iterable

from tools.migrations.rules.base import Context, Example, Finding, Rule
from tools.migrations.rules.concurrent_index_in_transaction import concurrent_actions


class ConcurrentIndexMigrationLock(Rule):
    """Fires once per migration with a concurrent index operation that keeps Ecto's default
    migration lock: no `@disable_migration_lock true`, and the repo's `migration_lock` is not
    `:pg_advisory_lock` (or `false`), read from config/*.exs."""

    id = "concurrent-index-migration-lock"
    title = "Concurrent index under Ecto's table migration lock"
    severity = "error"
    lock = "SHARE UPDATE EXCLUSIVE on schema_migrations held by another transaction the build waits for"
    catches = "`concurrently: true` without `@disable_migration_lock true` or `migration_lock: :pg_advisory_lock`."
    why = ("With the default `migration_lock: :table_lock`, Ecto holds LOCK TABLE schema_migrations "
           "in an open transaction on another connection while the migration runs. CREATE INDEX "
           "CONCURRENTLY waits for every older transaction to finish, that one included, so the "
           "migration hangs until it times out.")
    safe = """
        # either, in config/config.exs:
        config :my_app, MyApp.Repo, migration_lock: :pg_advisory_lock

        # or, in the migration:
        @disable_ddl_transaction true
        @disable_migration_lock true
    """
    excellent_migrations = ("index_concurrently_without_disable_migration_lock",)
    also_in = "ecto_sql guides/safe_migrations.md"
    fixable = True
    examples = [
        Example("@disable_ddl_transaction true\n\ndef change do\n"
                "  create index(:posts, [:slug], concurrently: true)\nend", fires=True),
        Example("@disable_ddl_transaction true\n\ndef change do\n"
                "  create index(:posts, [:slug], concurrently: true)\nend", fires=False,
                options={"migration_lock": "pg_advisory_lock"},
                note="the repo uses the advisory lock, which CONCURRENTLY does not wait for"),
        Example("@disable_ddl_transaction true\n@disable_migration_lock true\n\ndef change do\n"
                "  create index(:posts, [:slug], concurrently: true)\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        if ctx.migration.disable_migration_lock or \
                ctx.settings.migration_lock in ("pg_advisory_lock", "false"):
            return
        acts = concurrent_actions(ctx)
        if acts:
            yield self.finding(
                ctx, acts[0], "a concurrent index build under Ecto's table migration lock waits for the "
                              "lock's own transaction and hangs: add @disable_migration_lock true "
                              "(or set migration_lock: :pg_advisory_lock on the repo)",
                fix="@disable_migration_lock true", fixable="attributes")
