from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddColumnAct, AlterTypeAct, CreateTableAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, q


class JsonColumn(Rule):
    """Fires on every column of type `:json` (`json` in SQL), in new tables too: the choice
    matters from the first row, and changing it later is a rewrite."""

    id = "json-column"
    title = "json column instead of jsonb"
    severity = "warning"
    lock = "none of its own"
    catches = "`add :payload, :json`."
    why = ("json stores text and has no equality operator, so SELECT DISTINCT, GROUP BY and "
           "UNION on tables with json columns fail, and it cannot be indexed with GIN. Ecto's "
           "`:map` is jsonb.")
    safe = """
        add :payload, :map   # jsonb
    """
    fixable = True
    excellent_migrations = ("json_column_added",)
    also_in = "strong_migrations add_column_json; eugene E3"
    examples = [
        Example("def change do\n  create table(:events) do\n    add :payload, :json\n  end\nend", fires=True),
        Example("def change do\n  create table(:events) do\n    add :payload, :map\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.actions:
            cols = []
            if isinstance(act, CreateTableAct):
                cols = act.columns
            elif isinstance(act, AddColumnAct):
                cols = [act.column]
            elif isinstance(act, AlterTypeAct) and act.new is not None and act.new.name == "json":
                yield self.finding(ctx, act, f"{act.table}.{act.column} becomes json: use :map (jsonb)",
                                   fix=f"modify {q(act.column)}, :map")
            for col in cols:
                if col.type is not None and col.type.name == "json":
                    yield self.finding(
                        ctx, act, f"{act.table}.{col.name} is json: use :map, which is jsonb",
                        line=col.line or act.line, fix=f"add {q(col.name)}, :map",
                        fixable=None if act.raw else "json-to-map", column=col.name)
