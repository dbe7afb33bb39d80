from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddForeignKeyAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q


def validate_fix(table: str, name: str) -> str:
    return (f"# a later migration (it may ship in the same deploy):\n"
            f"def change do\n"
            f"  execute \"ALTER TABLE {table} VALIDATE CONSTRAINT {name}\", \"\"\n"
            f"end")


def elixir(value: object) -> str:
    """A literal as Elixir source, for fixes that repeat the author's options."""
    from tools.ecto.elixir import Atom, Expr

    if isinstance(value, Atom):
        return q(str(value))
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "nil"}[value]
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "{" + ", ".join(elixir(v) for v in value) + "}"
    if isinstance(value, list) and value and all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], Atom) for v in value):
        return "[" + ", ".join(f"{k}: {elixir(v)}" for k, v in value) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(elixir(v) for v in value) + "]"
    return str(value)


def _other_opts(act: AddForeignKeyAct) -> str:
    from tools.ecto.migration import ColumnChange, Reference

    ref = act.op.type if isinstance(act.op, ColumnChange) else None
    if not isinstance(ref, Reference):
        return ""
    return "".join(f", {k}: {elixir(v)}" for k, v in ref.opts.items() if k != "validate")


class ForeignKeyValidated(Rule):
    """Fires on `references(...)` without `validate: false` in `alter table` (add or modify) on a
    table the migration did not create, and on `ADD FOREIGN KEY` without `NOT VALID` in execute.
    A new nullable column is no exception: PostgreSQL still scans every row to validate it.
    The fix names the constraint as Ecto does, `<table>_<column>_fkey`, not the
    `<column>_fkey` some guides print."""

    id = "foreign-key-validated"
    title = "Foreign key added and validated in one step"
    severity = "error"
    lock = "SHARE ROW EXCLUSIVE on both tables while every row is checked: writes to both wait"
    catches = "`add :user_id, references(:users)` on an existing table; `ADD CONSTRAINT … FOREIGN KEY` without `NOT VALID`."
    why = ("Adding a validated foreign key checks every existing row while holding SHARE ROW "
           "EXCLUSIVE on the table and the referenced table, blocking writes to both for the "
           "whole scan.")
    safe = """
        # migration 1: the constraint applies to new rows only
        alter table(:posts) do
          add :group_id, references(:groups, validate: false)
        end

        # migration 2: validate without blocking writes (SHARE UPDATE EXCLUSIVE)
        execute "ALTER TABLE posts VALIDATE CONSTRAINT posts_group_id_fkey", ""
    """
    excellent_migrations = ("column_reference_added",)
    also_in = "squawk adding-foreign-key-constraint; strong_migrations add_foreign_key; eugene E1"
    fixable = True
    examples = [
        Example("def change do\n  alter table(:posts) do\n    add :group_id, references(:groups)\n"
                "  end\nend", fires=True),
        Example('def up do\n  execute "ALTER TABLE posts ADD CONSTRAINT posts_group_id_fkey '
                'FOREIGN KEY (group_id) REFERENCES groups (id)"\nend', fires=True),
        Example("def change do\n  alter table(:posts) do\n"
                "    add :group_id, references(:groups, validate: false)\n  end\nend", fires=False),
        Example("def change do\n  create table(:comments) do\n    add :post_id, references(:posts)\n"
                "  end\nend", fires=False, note="a new table has no rows to check"),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddForeignKeyAct):
            if not act.fk.validated or not ctx.existing(act.table):
                continue
            fk = act.fk
            column = fk.columns[0] if fk.columns else "?"
            fix = (f"alter table({q(act.table)}) do\n"
                   f"  add {q(column)}, references({q(fk.ref_table)}{_other_opts(act)}, validate: false)\nend\n\n"
                   + validate_fix(act.table, fk.name)) if not act.raw else \
                (f"execute \"{(act.sql or '').rstrip(';')} NOT VALID\"\n\n" + validate_fix(act.table, fk.name))
            yield self.finding(
                ctx, act, f"foreign key {fk.name} on existing table {act.table} is validated as it is "
                          f"added{described(act)}: every row of {act.table} is checked while writes to "
                          f"{act.table} and {fk.ref_table} wait",
                lock=lock_text("SHARE ROW EXCLUSIVE", act.table, fk.ref_table), fix=fix,
                fixable=None if act.raw else "fk-not-valid", constraint=fk.name, column=column,
                table=act.table)
