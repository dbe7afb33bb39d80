from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddExclusionAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text


class ExclusionConstraint(Rule):
    """Fires on `create constraint(..., exclude: ...)` or `ADD CONSTRAINT … EXCLUDE` on a table
    the migration did not create. There is no NOT VALID for exclusion constraints (Ecto's
    `validate: false` emits SQL PostgreSQL rejects)."""

    id = "exclusion-constraint"
    title = "Exclusion constraint added to an existing table"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while its index is built: reads and writes wait"
    catches = "`create constraint(:bookings, :no_overlap, exclude: ~s|gist (room_id WITH =, during WITH &&)|)` on an existing table."
    why = ("An exclusion constraint builds its index while holding ACCESS EXCLUSIVE, and cannot be "
           "added NOT VALID: the table is unavailable for the whole build.")
    safe = """
        # No lock-free way exists. Either create the constraint together with the table, or
        # enforce the rule in a trigger / the application and add the constraint in a
        # maintenance window.
        create table(:bookings) do
          add :room_id, :bigint
          add :during, :tstzrange
        end

        create constraint(:bookings, :no_overlap, exclude: ~s|gist (room_id WITH =, during WITH &&)|)
    """
    also_in = "strong_migrations add_exclusion_constraint; eugene E8"
    examples = [
        Example('def change do\n  create constraint(:bookings, :no_overlap, exclude: ~s|gist (room_id WITH =, during WITH &&)|)\nend',
                fires=True),
        Example('def change do\n  create table(:bookings) do\n    add :room_id, :bigint\n  end\n\n'
                '  create constraint(:bookings, :no_overlap, exclude: ~s|gist (room_id WITH =)|)\nend',
                fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddExclusionAct):
            if ctx.existing(act.table):
                yield self.finding(
                    ctx, act, f"exclusion constraint {act.name} on existing table {act.table}"
                              f"{described(act)} builds its index under ACCESS EXCLUSIVE and cannot be "
                              "added NOT VALID",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table),
                    fix="# no lock-free form: add it when the table is created, or in a maintenance window")
