from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import SERIAL_TYPES, AddColumnAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q


class VolatileDefault(Rule):
    """Fires on a column added to an existing table whose default must be computed per row:
    a volatile function (`gen_random_uuid()`, `random()`, `clock_timestamp()`, `nextval()`,
    uuid_generate_v4()…), a serial type, or an identity column. Constant defaults and STABLE
    functions (`now()`, CURRENT_TIMESTAMP) take the PostgreSQL 11+ fast path and are not
    reported; before PostgreSQL 11 (setting `pg_version`) every default is. A default calling
    a function this rule does not know is a warning: it cannot tell."""

    id = "volatile-default"
    title = "Column added with a default that rewrites the table"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table while every row is rewritten: reads and writes wait"
    catches = "`add :token, :uuid, default: fragment(\"gen_random_uuid()\")` on an existing table; `add :n, :bigserial`."
    why = ("Since PostgreSQL 11 a constant default is stored once in the catalog, but a volatile "
           "one has to be evaluated for every existing row: the table and its indexes are "
           "rewritten under ACCESS EXCLUSIVE.")
    safe = """
        alter table(:comments) do
          add :token, :uuid
        end

        execute "ALTER TABLE comments ALTER COLUMN token SET DEFAULT gen_random_uuid()",
                "ALTER TABLE comments ALTER COLUMN token DROP DEFAULT"

        # then backfill existing rows in batches, in a data migration
    """
    excellent_migrations = ("column_volatile_default", "column_added_with_default")
    also_in = "squawk adding-field-with-default; strong_migrations add_column_default; eugene E10/E11"
    examples = [
        Example('def change do\n  alter table(:comments) do\n'
                '    add :token, :uuid, default: fragment("gen_random_uuid()")\n  end\nend', fires=True),
        Example('def change do\n  alter table(:comments) do\n    add :position, :bigserial\n  end\nend',
                fires=True),
        Example('def change do\n  alter table(:comments) do\n    add :approved, :boolean, default: false\n'
                '    add :seen_at, :utc_datetime, default: fragment("now()")\n  end\nend', fires=False,
                note="constant and STABLE defaults are metadata-only on PostgreSQL 11+"),
        Example('def change do\n  alter table(:comments) do\n    add :approved, :boolean, default: false\n'
                '  end\nend', fires=True, options={"pg_version": 10},
                note="before PostgreSQL 11 every default rewrites"),
        Example('def change do\n  alter table(:comments) do\n'
                '    add :code, :string, default: fragment("my_code()")\n  end\nend', fires=True,
                severity="warning", note="unknown function: cannot tell"),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AddColumnAct):
            if not ctx.existing(act.table):
                continue
            col = act.column
            reason, severity = None, "error"
            serial = col.type is not None and col.type.name in SERIAL_TYPES
            if serial or col.identity:
                reason = f"a {'serial' if serial else 'identity'} column fills every existing row"
            elif col.default is not None:
                if col.default.volatile:
                    reason = f"default {col.default.sql} is volatile, so it is computed for every row"
                elif ctx.settings.pg_version < 11:
                    reason = f"before PostgreSQL 11 any default ({col.default.sql}) is written to every row"
                elif col.default.volatile is None:
                    reason = (f"default {col.default.sql} calls a function whose volatility is not "
                              "known here; if it is VOLATILE every row is rewritten")
                    severity = "warning"
            if reason is None:
                continue
            default = col.default.sql if col.default is not None else "nextval(...)"
            yield self.finding(
                ctx, act, f"column {col.name} added to existing table {act.table}{described(act)}: "
                          f"{reason}, rewriting the table",
                lock=lock_text("ACCESS EXCLUSIVE", act.table), severity=severity,
                fix=(f"alter table({q(act.table)}) do\n  add {q(col.name)}, <type>  # no default\nend\n\n"
                     f"execute \"ALTER TABLE {act.table} ALTER COLUMN {col.name} SET DEFAULT {default}\",\n"
                     f"        \"ALTER TABLE {act.table} ALTER COLUMN {col.name} DROP DEFAULT\"\n"
                     "# then backfill existing rows in batches (priv/repo/data_migrations)"))
