from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import DataAct, EnumAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text


class EnumValueChange(Rule):
    """Fires on `ALTER TYPE … ADD VALUE` and `RENAME VALUE` (Ecto has no DSL for PostgreSQL
    enums, so these come from execute). ADD VALUE is `error` inside a transaction before
    PostgreSQL 12, where it is refused, and `info` otherwise (load code that knows the value
    before anything writes it). RENAME VALUE is a `warning`: running code still sends and
    expects the old label."""

    id = "enum-value-change"
    title = "PostgreSQL enum value added or renamed"
    severity = "warning"
    lock = "ACCESS EXCLUSIVE on the type's catalog entry, briefly"
    catches = "`execute \"ALTER TYPE order_status RENAME VALUE 'shipped' TO 'sent'\"`."
    why = ("PostgreSQL can add and rename enum labels but never drop or reorder them. A rename "
           "breaks every running node that still writes the old label; Ecto.Enum on old code "
           "raises when it loads a label it does not know; before PostgreSQL 12 ADD VALUE cannot "
           "run in a transaction at all, and after it the new label cannot be used in the same "
           "transaction.")
    safe = """
        # deploy code that accepts both labels first; then
        @disable_ddl_transaction true

        def up do
          execute "ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'sent' AFTER 'shipped'"
        end
    """
    also_in = "squawk require-enum-value-ordering; strong_migrations rename_enum_value"
    examples = [
        Example("def up do\n  execute \"ALTER TYPE order_status RENAME VALUE 'shipped' TO 'sent'\"\nend",
                fires=True, severity="warning"),
        Example("def up do\n  execute \"ALTER TYPE order_status ADD VALUE 'sent'\"\nend", fires=True,
                severity="error", options={"pg_version": 11}),
        Example("def up do\n  execute \"ALTER TYPE order_status ADD VALUE 'sent'\"\nend", fires=True,
                severity="info"),
        Example("def up do\n  execute \"CREATE TYPE mood AS ENUM ('happy', 'sad')\"\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(EnumAct):
            if act.action == "rename_value":
                yield self.finding(
                    ctx, act, f"enum {act.type_name} label {act.value!r} is renamed: running code still "
                              "writes and expects the old label",
                    lock=lock_text("ACCESS EXCLUSIVE", f"type {act.type_name}", note=", briefly"),
                    fix="# add the new label, migrate rows in batches, deploy code using it; keep the old")
            elif act.action == "add_value":
                used_later = any(isinstance(a, DataAct) and a.line >= act.line for a in ctx.actions)
                if ctx.in_transaction and ctx.settings.pg_version < 12:
                    yield self.finding(
                        ctx, act, f"ALTER TYPE {act.type_name} ADD VALUE cannot run inside a transaction "
                                  "before PostgreSQL 12: add @disable_ddl_transaction true",
                        severity="error", fix="@disable_ddl_transaction true")
                elif ctx.in_transaction and used_later:
                    yield self.finding(
                        ctx, act, f"enum {act.type_name} gets {act.value!r} and data changes follow in the "
                                  "same transaction: the new label cannot be used until it commits",
                        severity="error", fix="# add the label in a migration of its own")
                else:
                    yield self.finding(
                        ctx, act, f"enum {act.type_name} gets label {act.value!r}: deploy code that can "
                                  "read it before anything writes it", severity="info")
