from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import (
    AddCheckAct, AddForeignKeyAct, ValidateAct,
)
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text


class ValidateInSameTransaction(Rule):
    """Fires on VALIDATE CONSTRAINT in a migration that runs in a transaction and also added
    that constraint (NOT VALID) earlier: the ADD's lock is held until commit, so the validation
    scan runs under it. Under `@disable_ddl_transaction true` each statement commits on its own
    and the pair is fine."""

    id = "validate-in-same-transaction"
    title = "VALIDATE CONSTRAINT in the migration that adds the constraint"
    severity = "error"
    lock = "the ADD's lock (SHARE ROW EXCLUSIVE or ACCESS EXCLUSIVE) stays held through the validation scan"
    catches = "`validate: false` followed by `execute \"… VALIDATE CONSTRAINT …\"` in the same migration."
    why = ("Splitting add and validate only helps if they commit separately. In one transaction "
           "the lock taken by ADD CONSTRAINT is held until commit, so the full-table validation "
           "runs with writes (or all access) blocked, exactly what NOT VALID was meant to avoid.")
    safe = """
        # migration 1
        alter table(:posts) do
          add :group_id, references(:groups, validate: false)
        end

        # migration 2 (same deploy is fine, separate migration is required)
        execute "ALTER TABLE posts VALIDATE CONSTRAINT posts_group_id_fkey", ""
    """
    also_in = "squawk constraint-missing-not-valid; strong_migrations validate_foreign_key in a transaction"
    fixable = True
    examples = [
        Example("def up do\n  create constraint(:posts, :views_non_negative, check: \"views >= 0\", "
                "validate: false)\n  flush()\n"
                "  execute \"ALTER TABLE posts VALIDATE CONSTRAINT views_non_negative\"\nend\n\n"
                "def down, do: :ok", fires=True),
        Example("def change do\n  execute \"ALTER TABLE posts VALIDATE CONSTRAINT posts_group_id_fkey\", \"\"\nend",
                fires=False, note="validated in a migration of its own"),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        if not ctx.in_transaction:
            return
        seen: dict[str, int] = {}
        for act in ctx.actions:
            if isinstance(act, ValidateAct):
                added_here = act.name in seen
                if added_here:
                    yield self.finding(
                        ctx, act, f"constraint {act.name} is validated in the transaction that added it "
                                  f"(line {seen[act.name]}): the ADD's lock is still held, so the "
                                  "validation scan blocks writes anyway; validate in a later migration",
                        lock=lock_text("SHARE ROW EXCLUSIVE", act.table),
                        fix=f"# move to a migration of its own:\nexecute \"{act.sql or ''}\", \"\"",
                        fixable="move-validate", constraint=act.name)
            elif isinstance(act, AddForeignKeyAct):
                seen[act.fk.name] = act.line
            elif isinstance(act, AddCheckAct):
                seen[act.name] = act.line
