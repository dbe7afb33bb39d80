from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddColumnAct, CreateTableAct
from tools.migrations.rules.base import Context, Example, Finding, Rule


class PreferText(Rule):
    """Fires once per statement on `varchar(n)` columns, which is what Ecto's `:string`
    becomes (varchar(255))."""

    id = "prefer-text"
    title = "varchar(n) instead of text"
    severity = "info"
    lock = "none"
    catches = "`add :title, :string`."
    why = ("varchar(255) is no faster than text in PostgreSQL; the limit only turns long input "
           "into a database error, and raising it later is an ALTER COLUMN TYPE.")
    safe = """
        add :title, :text   # validate length in the changeset if it matters
    """
    also_in = "squawk prefer-text-field"
    examples = [
        Example("def change do\n  create table(:posts) do\n    add :title, :string\n  end\nend", fires=True),
        Example("def change do\n  create table(:posts) do\n    add :title, :text\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.actions:
            cols = act.columns if isinstance(act, CreateTableAct) else \
                [act.column] if isinstance(act, AddColumnAct) else []
            names = [c.name for c in cols if c.type is not None and c.type.name == "varchar" and c.type.mods]
            if names:
                yield self.finding(ctx, act, f"{act.table}: {', '.join(names)} "
                                             f"{'is' if len(names) == 1 else 'are'} varchar(n)")
