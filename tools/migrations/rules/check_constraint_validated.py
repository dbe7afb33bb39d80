from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddCheckAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q
from tools.migrations.rules.foreign_key_validated import validate_fix


class CheckConstraintValidated(Rule):
    """Fires on `create constraint(..., check: ...)` without `validate: false`, and on
    `ADD CONSTRAINT … CHECK` without `NOT VALID` in execute, on a table the migration did not
    create."""

    id = "check-constraint-validated"
    title = "Check constraint added and validated in one step"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while every row is checked: reads and writes wait"
    catches = "`create constraint(:products, :price_positive, check: \"price > 0\")` on an existing table."
    why = ("ADD CONSTRAINT … CHECK scans the whole table under ACCESS EXCLUSIVE, so nothing can "
           "read or write the table until every row has been checked.")
    safe = """
        create constraint(:products, :price_must_be_positive, check: "price > 0", validate: false)

        # a later migration:
        execute "ALTER TABLE products VALIDATE CONSTRAINT price_must_be_positive", ""
    """
    excellent_migrations = ("check_constraint_added",)
    also_in = "squawk constraint-missing-not-valid; strong_migrations add_check_constraint; eugene E1"
    fixable = True
    examples = [
        Example('def change do\n  create constraint(:products, :price_must_be_positive, check: "price > 0")\nend',
                fires=True),
        Example('def up do\n  execute "ALTER TABLE products ADD CONSTRAINT positive CHECK (price > 0)"\nend',
                fires=True),
        Example('def change do\n  create constraint(:products, :price_must_be_positive, check: "price > 0", '
                'validate: false)\nend', fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddCheckAct):
            if not act.validated or not ctx.existing(act.table):
                continue
            if act.raw:
                fix = f"execute \"{(act.sql or '').rstrip(';')} NOT VALID\""
            else:
                fix = (f"create constraint({q(act.table)}, {q(act.name)}, check: {act.expr!r}, "
                       f"validate: false)").replace("'", '"')
            yield self.finding(
                ctx, act, f"check constraint {act.name} on existing table {act.table} is validated as "
                          f"it is added{described(act)}: the whole table is scanned under ACCESS EXCLUSIVE",
                lock=lock_text("ACCESS EXCLUSIVE", act.table),
                fix=fix + "\n\n" + validate_fix(act.table, act.name),
                fixable=None if act.raw else "check-not-valid", constraint=act.name,
                table=act.table)
