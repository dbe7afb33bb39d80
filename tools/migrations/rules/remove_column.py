from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import DropColumnAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text


class RemoveColumn(Rule):
    """Fires on `remove :col` and `DROP COLUMN` on a table the migration did not create.
    Severity depends on the app's code, read from the project's Ecto schemas (lib/**/*.ex):
    `warning` while a schema still maps the column (a `field`, a `belongs_to` key, or a
    `source:`), or when no schema could be read; `info` once no schema maps it any more, which is
    the safe order, or when a later migration adds the column back (the schema then maps the new
    one)."""

    id = "remove-column"
    title = "Column removed"
    severity = "warning"
    lock = "ACCESS EXCLUSIVE on the table, briefly (no rewrite)"
    catches = "`alter table(:users) do remove :nickname end` while `field :nickname` is still in the schema."
    why = ("Ecto selects every schema field by name. Until the code that knows the column is gone "
           "from every running node, its queries fail with `column does not exist` the moment "
           "the column is dropped.")
    safe = """
        # deploy 1: delete `field :nickname, :string` from the schema (and every use of it)
        # deploy 2:
        alter table(:users) do
          remove :nickname, :string   # the type keeps it reversible
        end
    """
    excellent_migrations = ("column_removed",)
    also_in = "squawk ban-drop-column; strong_migrations remove_column"
    examples = [
        Example("def change do\n  alter table(:users) do\n    remove :nickname, :string\n  end\nend",
                fires=True, severity="warning", options={"schema": {"users": ["email", "nickname"]}}),
        Example("def change do\n  alter table(:users) do\n    remove :nickname, :string\n  end\nend",
                fires=True, severity="info", options={"schema": {"users": ["email"]}},
                note="the schema no longer has the field: the safe order"),
        Example("def change do\n  alter table(:users) do\n    add :nickname, :string\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(DropColumnAct):
            if not ctx.existing(act.table):
                continue
            ref = ctx.project.schema_field(act.table, act.column) if ctx.project else None
            known = ctx.project is not None and ctx.project.schemas_known
            readded = ctx.final is not None and ctx.final.column(act.table, act.column) is not None
            if readded:
                message = (f"{act.table}.{act.column} is dropped{described(act)} and added again later: "
                           "its data is lost, and code reading it sees it vanish in between")
                severity = "info"
            elif ref is not None:
                message = (f"{act.table}.{act.column} is dropped{described(act)} but {ref.module} still maps it "
                           f"({ref.where}): running code selects it and fails; remove the field and "
                           "deploy first")
                severity = "warning"
            elif known:
                message = (f"{act.table}.{act.column} is dropped{described(act)}; no Ecto schema maps it any "
                           "more, so deployed code no longer reads it")
                severity = "info"
            else:
                message = (f"{act.table}.{act.column} is dropped{described(act)}: make sure the field was "
                           "removed from the Ecto schema and deployed first")
                severity = "warning"
            yield self.finding(ctx, act, message, severity=severity,
                               lock=lock_text("ACCESS EXCLUSIVE", act.table, note=", briefly"),
                               fix=None if severity == "info" else
                               "# deploy 1: remove the field from the schema; deploy 2: this migration")
