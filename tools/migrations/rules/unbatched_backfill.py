from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import DataAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text


def is_unbatched(ctx: Context, act: DataAct) -> bool:
    """A statement that touches every matching row at once: update_all/delete_all or raw
    UPDATE/DELETE/INSERT … SELECT/TRUNCATE at the top of the migration, not in a loop or helper,
    not paged by a LIMIT subquery, on a table the migration did not create."""
    if act.nested or act.batched or not ctx.existing(act.table):
        return False
    if act.kind == "truncate":
        return True
    if act.raw:
        return act.kind in ("update", "delete") or (act.kind == "insert" and act.select_source)
    return act.function in ("update_all", "delete_all")


class UnbatchedBackfill(Rule):
    """Fires on a whole-table data change that runs as one statement (see `is_unbatched`), in
    schema and data migrations alike."""

    id = "unbatched-backfill"
    title = "Backfill in one statement"
    severity = "warning"
    lock = "ROW EXCLUSIVE on the table and a row lock on every row it changes, until commit"
    catches = "`repo().update_all(\"posts\", set: [published: false])`; `execute \"UPDATE posts SET …\"`."
    why = ("One UPDATE over a big table runs for minutes, locks every row it touches until it "
           "commits (blocking concurrent updates of those rows), bloats the table, and inside "
           "a migration's transaction holds every earlier DDL lock too.")
    safe = """
        # priv/repo/data_migrations, following ecto_sql's backfilling guide
        @disable_ddl_transaction true
        @disable_migration_lock true
        @batch_size 1000
        @throttle_ms 100

        def up, do: throttle_change_in_batches(&page_query/1, &do_change/1)

        def page_query(last_id) do
          from(r in "posts", select: r.id, where: is_nil(r.published) and r.id > ^last_id,
            order_by: [asc: r.id], limit: @batch_size)
        end

        def do_change(ids) do
          {_, rows} = repo().update_all(from(r in "posts", where: r.id in ^ids, select: r.id),
                                        [set: [published: false]], log: :info)
          Enum.map(rows, & &1)
        end
    """
    excellent_migrations = ("operation_update", "operation_delete")
    also_in = "strong_migrations backfilling docs; ecto_sql guides/backfilling_data.md"
    examples = [
        Example('def up do\n  repo().update_all("posts", set: [published: false])\nend', fires=True),
        Example('def up do\n  execute "UPDATE posts SET published = false WHERE published IS NULL"\nend',
                fires=True),
        Example('def up do\n  execute "UPDATE posts SET published = false WHERE id IN '
                '(SELECT id FROM posts WHERE published IS NULL LIMIT 1000)"\nend', fires=False,
                note="paged by a LIMIT subquery"),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(DataAct):
            if not is_unbatched(ctx, act):
                continue
            where = "" if ctx.data_migration else " in a schema migration"
            tx = " inside the migration's transaction" if ctx.in_transaction else ""
            yield self.finding(
                ctx, act, f"{act.function} on {act.table or 'a table'} changes every matching row in one "
                          f"statement{where}{tx}: batch it by primary key in a data migration",
                lock=lock_text("ROW EXCLUSIVE", act.table, note=", plus row locks until commit"),
                fix="# keyset batches of ~1000 ids with a short sleep between them, in "
                    "priv/repo/data_migrations (ecto_sql guides/backfilling_data.md)")
