from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import CreateIndexAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q


def concurrent_index_fix(act: CreateIndexAct, lock_setting: str) -> str:
    cols = ", ".join(q(c) if c.replace("_", "a").isalnum() else f'"{c}"' for c in act.columns)
    fn = "unique_index" if act.unique else "index"
    attrs = "@disable_ddl_transaction true\n"
    if lock_setting not in ("pg_advisory_lock", "false"):
        attrs += "@disable_migration_lock true\n"
    return (f"# a migration of its own, with nothing else in it\n{attrs}\n"
            f"def change do\n  create {fn}({q(act.table)}, [{cols}], concurrently: true)\nend")


class IndexNotConcurrent(Rule):
    """Fires on `create index`/`create unique_index` (or `CREATE INDEX` in execute) without
    `concurrently: true` on a table the same migration did not create. An index on a table
    created in the same migration is empty, so building it locks nothing anyone uses."""

    id = "index-not-concurrent"
    title = "Index built without CONCURRENTLY on an existing table"
    severity = "error"
    lock = "SHARE on the table for the whole build: INSERT, UPDATE and DELETE wait"
    catches = "`create index(...)` / `create unique_index(...)` on an existing table without `concurrently: true`."
    why = ("A plain CREATE INDEX reads the whole table while holding a SHARE lock, so every write "
           "to the table waits until the build finishes: minutes on a large table.")
    safe = """
        @disable_ddl_transaction true
        @disable_migration_lock true  # or migration_lock: :pg_advisory_lock in the repo config

        def change do
          create index(:posts, [:slug], concurrently: true)
        end
    """
    excellent_migrations = ("index_not_concurrently",)
    also_in = "squawk require-concurrent-index-creation; strong_migrations add_index; eugene E6"
    fixable = True
    examples = [
        Example("def change do\n  create index(:posts, [:slug])\nend", fires=True),
        Example("def change do\n  create unique_index(:users, [:email], name: :users_email_uniq)\nend",
                fires=True),
        Example('def change do\n  execute "CREATE INDEX posts_slug ON posts (slug)", "DROP INDEX posts_slug"\nend',
                fires=True, note="raw SQL is analysed too"),
        Example("def change do\n  create table(:posts) do\n    add :slug, :string\n  end\n\n"
                "  create index(:posts, [:slug])\nend", fires=False,
                note="a table created in the same migration is empty"),
        Example("@disable_ddl_transaction true\n@disable_migration_lock true\n\n"
                "def change do\n  create index(:posts, [:slug], concurrently: true)\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(CreateIndexAct):
            if act.concurrently or not ctx.existing(act.table):
                continue
            kind = "unique index" if act.unique else "index"
            yield self.finding(
                ctx, act,
                f"{kind} {act.name or 'on ' + str(act.table)} on existing table {act.table} is built "
                f"without concurrently{described(act)}: writes to {act.table} wait for the whole build",
                lock=lock_text("SHARE", act.table), fix=concurrent_index_fix(act, ctx.settings.migration_lock),
                fixable="concurrent-index")
