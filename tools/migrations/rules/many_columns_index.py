from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import CreateIndexAct
from tools.migrations.rules.base import Context, Example, Finding, Rule

MAX_COLUMNS = 3


class ManyColumnsIndex(Rule):
    """Fires on a non-unique index with more than three key columns."""

    id = "many-columns-index"
    title = "Non-unique index with more than three columns"
    severity = "info"
    lock = "as for any index build"
    catches = "`create index(:events, [:account_id, :kind, :status, :inserted_at])`."
    why = ("Wide indexes cost writes and space, and past three columns the extra keys rarely "
           "narrow a search further; check with explain that queries use every column.")
    safe = """
        create index(:events, [:account_id, :inserted_at], concurrently: true)
    """
    excellent_migrations = ("many_columns_index",)
    also_in = "strong_migrations add_index_columns"
    examples = [
        Example("def change do\n  create table(:events) do\n    add :a, :int\n  end\n\n"
                "  create index(:events, [:a, :b, :c, :d])\nend", fires=True),
        Example("def change do\n  create table(:events) do\n    add :a, :int\n  end\n\n"
                "  create unique_index(:events, [:a, :b, :c, :d])\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(CreateIndexAct):
            if not act.unique and len(act.columns) > MAX_COLUMNS:
                yield self.finding(ctx, act, f"index {act.name} has {len(act.columns)} key columns; "
                                             "check that queries use them all (explain)")
