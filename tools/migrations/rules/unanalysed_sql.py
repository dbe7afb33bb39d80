from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import UnanalysedAct
from tools.migrations.rules.base import Context, Example, Finding, Rule


class UnanalysedSql(Rule):
    """Fires on `execute`/`execute_file`/`repo().query!` whose SQL is not known from the source
    (interpolated strings, variables, files) or that PostgreSQL's parser rejects. Every SQL
    string that can be read is analysed by the other rules, so this replaces
    excellent_migrations' blanket raw_sql_executed."""

    id = "unanalysed-sql"
    title = "SQL that could not be checked"
    severity = "info"
    lock = "unknown"
    catches = "`execute \"ALTER TABLE #{@table} …\"`; `execute_file \"…\"`; SQL that does not parse."
    why = "What the linter cannot read it cannot vouch for; review these statements by hand or trace them."
    safe = """
        execute "ALTER TABLE posts ADD COLUMN slug text", "ALTER TABLE posts DROP COLUMN slug"
    """
    excellent_migrations = ("raw_sql_executed",)
    examples = [
        Example('def up do\n  execute "ALTER TABLE #{@table} ADD COLUMN slug text"\nend', fires=True),
        Example('def up do\n  execute "ALTER TABLE posts ADD COLUMN slug text"\nend', fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(UnanalysedAct):
            yield self.finding(ctx, act, f"SQL not checked: {act.reason}")
