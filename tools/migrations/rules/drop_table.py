from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import DropTableAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text


class DropTable(Rule):
    """Fires on `drop table(...)` and `DROP TABLE` for a table the migration did not create:
    `warning` while an Ecto schema still uses the table (or none could be read), `info` once
    none does, or when a later migration creates the table again."""

    id = "drop-table"
    title = "Table dropped"
    severity = "warning"
    lock = "ACCESS EXCLUSIVE on the table (and on tables whose foreign keys point at it)"
    catches = "`drop table(:legacy_events)` while `schema \"legacy_events\"` is still in lib/."
    why = "Code still using the table fails as soon as it is gone, and the data cannot be brought back by a rollback."
    safe = """
        # deploy 1: remove the schema module and every use of the table
        # deploy 2:
        drop table(:legacy_events)
    """
    excellent_migrations = ("table_dropped",)
    also_in = "squawk ban-drop-table"
    examples = [
        Example("def change do\n  drop table(:legacy_events)\nend", fires=True, severity="warning",
                options={"schema": {"legacy_events": ["id"]}}),
        Example("def change do\n  drop table(:legacy_events)\nend", fires=True, severity="info",
                options={"schema": {"users": ["id"]}}),
        Example("def change do\n  create table(:tmp) do\n    add :x, :int\n  end\n\n  drop table(:tmp)\nend",
                fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(DropTableAct):
            if not ctx.existing(act.table):
                continue
            ref = ctx.project.schema_for(act.table) if ctx.project else None
            known = ctx.project is not None and ctx.project.schemas_known
            if ctx.final is not None and ctx.final.table(act.table) is not None:
                msg, sev = (f"table {act.table} is dropped{described(act)} and created again later: its "
                            "rows are lost"), "info"
            elif ref is not None:
                msg, sev = (f"table {act.table} is dropped{described(act)} but {ref.module} still uses it "
                            f"({ref.where})"), "warning"
            elif known:
                msg, sev = (f"table {act.table} is dropped{described(act)}; no Ecto schema uses it any "
                            "more"), "info"
            else:
                msg, sev = (f"table {act.table} is dropped{described(act)}: make sure no deployed code "
                            "uses it"), "warning"
            yield self.finding(ctx, act, msg, severity=sev, lock=lock_text("ACCESS EXCLUSIVE", act.table))
