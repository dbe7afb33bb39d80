from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddCheckAct, SetNotNullAct, ValidateAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q
from tools.migrations.schema import _NOT_NULL_CHECK


class SetNotNull(Rule):
    """Fires on `modify …, null: false` and `ALTER COLUMN … SET NOT NULL` on a table the
    migration did not create, unless a validated `CHECK (col IS NOT NULL)` already proves the
    column has no NULLs (earlier migrations, or validated earlier in this one) on PostgreSQL
    12+, in which case PostgreSQL skips the scan."""

    id = "set-not-null"
    title = "SET NOT NULL scans the table under ACCESS EXCLUSIVE"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while every row is checked: reads and writes wait"
    catches = "`modify :active, :boolean, null: false` on an existing table."
    why = ("SET NOT NULL checks every row while holding ACCESS EXCLUSIVE. A validated CHECK "
           "constraint proves the same thing without the strong lock, and lets SET NOT NULL "
           "skip the scan (PostgreSQL 12+).")
    safe = """
        # deploy 1
        create constraint(:products, :active_not_null, check: "active IS NOT NULL", validate: false)

        # deploy 2 (after backfilling NULLs)
        execute "ALTER TABLE products VALIDATE CONSTRAINT active_not_null", ""
        execute "ALTER TABLE products ALTER COLUMN active SET NOT NULL",
                "ALTER TABLE products ALTER COLUMN active DROP NOT NULL"
        drop constraint(:products, :active_not_null)
    """
    excellent_migrations = ("not_null_added",)
    also_in = "squawk adding-not-nullable-field; strong_migrations change_column_null; eugene E2"
    examples = [
        Example("def change do\n  alter table(:products) do\n    modify :active, :boolean, null: false\n"
                "  end\nend", fires=True),
        Example('def up do\n  execute "ALTER TABLE products ALTER COLUMN active SET NOT NULL"\nend', fires=True),
        Example('def up do\n  execute "ALTER TABLE products VALIDATE CONSTRAINT active_not_null"\n'
                '  execute "ALTER TABLE products ALTER COLUMN active SET NOT NULL"\nend', fires=False,
                before=('def change do\n  create constraint(:products, :active_not_null, '
                        'check: "active IS NOT NULL", validate: false)\nend',),
                note="the validated CHECK proves it; PostgreSQL skips the scan"),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        validated_here: set[tuple[str | None, str]] = set()
        checks = {(a.table, a.name): a.expr for a in ctx.of(AddCheckAct)}
        for act in ctx.actions:
            if isinstance(act, ValidateAct):
                t = ctx.state.table(act.table)
                expr = checks.get((act.table, act.name))
                if expr is None and t is not None and act.name in t.constraints:
                    expr = t.constraints[act.name].expr
                m = _NOT_NULL_CHECK.match((expr or "").strip())
                if m:
                    validated_here.add((act.table, m.group(1)))
            if not isinstance(act, SetNotNullAct) or not ctx.existing(act.table):
                continue
            if ctx.settings.pg_version >= 12 and (
                    (act.table, act.column) in validated_here or
                    ctx.state.proven_not_null(act.table, act.column)):
                continue
            t, c = act.table, act.column
            yield self.finding(
                ctx, act, f"{t}.{c} is made NOT NULL{described(act)}: every row is checked while "
                          "nothing can read or write the table",
                lock=lock_text("ACCESS EXCLUSIVE", t),
                fix=(f"create constraint({q(t)}, {q(c + '_not_null')}, check: \"{c} IS NOT NULL\", "
                     f"validate: false)\n\n# later migration, after backfilling NULLs:\n"
                     f"execute \"ALTER TABLE {t} VALIDATE CONSTRAINT {c}_not_null\", \"\"\n"
                     f"execute \"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL\",\n"
                     f"        \"ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL\"\n"
                     f"drop constraint({q(t)}, {q(c + '_not_null')})"))
