from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import DataAct
from tools.migrations.rules.base import Context, Example, Finding, Rule
from tools.migrations.rules.unbatched_backfill import is_unbatched


class DataChangeInSchemaMigration(Rule):
    """Fires on Repo writes (`Repo.insert_all`, `repo().update_all`, `MyApp.Repo.delete_all`,
    `repo().query!("UPDATE …")`) and raw INSERT/UPDATE/DELETE in a migration outside a
    data-migrations directory. Inserts into a table the same migration created are fine (seed
    rows for a lookup table), and whole-table updates are unbatched-backfill's finding instead.
    A raw `INSERT … VALUES` of literal rows (a feature flag, a lookup row) is only `info`: it
    touches no existing row and depends on no schema module."""

    id = "data-change-in-schema-migration"
    title = "Data changed in a schema migration"
    severity = "warning"
    lock = "ROW EXCLUSIVE on the table, plus row locks held until the migration commits"
    catches = "`repo().update_all(...)` or `Repo.insert_all(...)` in priv/repo/migrations."
    why = ("Schema migrations run in one transaction at deploy time: data changes there hold row "
           "locks (and any DDL lock taken earlier) until the whole migration commits, block the "
           "deploy on data volume, and tie old migrations to schema modules that will change.")
    safe = """
        # priv/repo/data_migrations/20240101000000_backfill_x.exs, run with
        # Ecto.Migrator.run(Repo, "priv/repo/data_migrations", :up, all: true)
        @disable_ddl_transaction true
        @disable_migration_lock true
        @batch_size 1000

        def up do
          # keyset batches: select ids, update_all where id in ^ids, Process.sleep, repeat
        end
    """
    excellent_migrations = ("operation_insert", "operation_update", "operation_delete")
    also_in = "ecto_sql guides/backfilling_data.md"
    examples = [
        Example('def up do\n  MyApp.Repo.insert_all("roles", [%{name: "admin"}])\nend', fires=True),
        Example("def up do\n  Enum.each(batches(), fn ids ->\n"
                "    repo().update_all(from(p in \"posts\", where: p.id in ^ids), set: [x: 1])\n"
                "  end)\nend", fires=True, note="batched, but still in a schema migration"),
        Example('def change do\n  create table(:roles) do\n    add :name, :string\n  end\n\n'
                '  execute(fn -> repo().insert_all("roles", [%{name: "admin"}]) end)\nend', fires=False,
                note="seed rows of a table created here"),
        Example("def up do\n  Enum.each(batches(), fn ids ->\n"
                "    repo().update_all(from(p in \"posts\", where: p.id in ^ids), set: [x: 1])\n"
                "  end)\nend", fires=False, options={"file": "priv/repo/data_migrations/20240101000000_x.exs"}),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        if ctx.data_migration:
            return
        for act in ctx.of(DataAct):
            if is_unbatched(ctx, act):
                continue
            if act.kind == "insert" and act.table is not None and not ctx.existing(act.table):
                continue
            what = f"{act.function} on {act.table}" if act.table else act.function
            seed = act.raw and act.kind == "insert" and not act.select_source
            yield self.finding(
                ctx, act, f"{what} changes data in a schema migration: it runs inside the deploy and "
                          "holds its locks until the migration commits; move it to a data migration",
                severity="info" if seed else None, fix="# priv/repo/data_migrations/<version>_<name>.exs, batched, with "
                    "@disable_ddl_transaction true and @disable_migration_lock true")
