from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import TransactionControlAct
from tools.migrations.rules.base import Context, Example, Finding, Rule


class TransactionControl(Rule):
    """Fires on BEGIN, COMMIT, ROLLBACK and savepoint commands in execute."""

    id = "transaction-control"
    title = "Transaction commands inside a migration"
    severity = "error"
    lock = "none of its own"
    catches = "`execute \"COMMIT\"`."
    why = ("Ecto owns the migration's transaction: a COMMIT in the middle ends it early (the rest "
           "runs unprotected and the migration may not be recorded), a BEGIN nests and warns.")
    safe = """
        @disable_ddl_transaction true   # when statements must run outside a transaction
    """
    also_in = "squawk transaction-nesting"
    examples = [
        Example('def up do\n  execute "COMMIT"\n  execute "CREATE INDEX CONCURRENTLY x ON t (a)"\nend', fires=True),
        Example('def up do\n  execute "SET LOCAL lock_timeout = \'5s\'"\nend', fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(TransactionControlAct):
            yield self.finding(ctx, act, f"{act.kind} inside a migration fights Ecto's own transaction "
                                         "handling: use @disable_ddl_transaction true instead",
                               fix="@disable_ddl_transaction true")
