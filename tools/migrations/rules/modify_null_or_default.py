from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AlterTypeAct, SetDefaultAct
from tools.migrations.rules.base import Context, Example, Finding, Rule, lock_text
from tools.migrations.rules.column_type_change import changes_null_or_default_only


class ModifyNullOrDefault(Rule):
    """Fires on `modify` that keeps the column's type (or whose current type is unknown) and
    sets `null:` or `default:`: Ecto still emits `ALTER COLUMN … TYPE`. The NOT NULL part
    itself is set-not-null's finding."""

    id = "modify-null-or-default"
    title = "`modify` used to change only null or default"
    severity = "warning"
    lock = "ACCESS EXCLUSIVE on the table (ALTER COLUMN TYPE is always sent)"
    catches = "`modify :approved, :boolean, default: false` to change a default."
    why = ("Ecto's `modify` always emits ALTER COLUMN … TYPE, so changing a default or dropping "
           "NOT NULL through it re-issues the type change: ACCESS EXCLUSIVE, and a rewrite "
           "if the type given differs from the real one in any way (size, precision).")
    safe = """
        execute "ALTER TABLE comments ALTER COLUMN approved SET DEFAULT false",
                "ALTER TABLE comments ALTER COLUMN approved DROP DEFAULT"
    """
    excellent_migrations = ("column_type_changed",)
    also_in = "ecto_sql Ecto.Migration.modify/3 docs; fly-apps/safe-ecto-migrations"
    examples = [
        Example("def change do\n  alter table(:comments) do\n    modify :approved, :boolean, default: false\n"
                "  end\nend", fires=True),
        Example("def change do\n  alter table(:comments) do\n    modify :body, :text, null: true\n  end\nend",
                fires=True),
        Example("def change do\n  execute \"ALTER TABLE comments ALTER COLUMN approved SET DEFAULT false\",\n"
                "          \"ALTER TABLE comments ALTER COLUMN approved DROP DEFAULT\"\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AlterTypeAct):
            if not ctx.existing(act.table) or not changes_null_or_default_only(ctx, act):
                continue
            sqls = []
            if act.sets_null is True:
                sqls.append((f"ALTER TABLE {act.table} ALTER COLUMN {act.column} DROP NOT NULL",
                             f"ALTER TABLE {act.table} ALTER COLUMN {act.column} SET NOT NULL"))
            if act.sets_default:
                default = next((d.default for d in ctx.of(SetDefaultAct)
                                if d.line == act.line and d.column == act.column), None)
                value = _sql_literal(default.sql) if default is not None else "NULL"
                sqls.append((f"ALTER TABLE {act.table} ALTER COLUMN {act.column} SET DEFAULT {value}",
                             f"ALTER TABLE {act.table} ALTER COLUMN {act.column} DROP DEFAULT"))
            what = " and ".join(w for w, on in (("null", act.sets_null is not None),
                                                ("default", act.sets_default)) if on)
            fix = "\n".join(f'execute "{up}",\n        "{down}"' for up, down in sqls) or None
            if act.sets_null is False:
                fix = ((fix + "\n") if fix else "") + "# NOT NULL: see set-not-null"
            yield self.finding(
                ctx, act, f"modify {act.column} on {act.table} changes only {what}, but Ecto still emits "
                          "ALTER COLUMN TYPE under ACCESS EXCLUSIVE; use execute with the exact ALTER",
                lock=lock_text("ACCESS EXCLUSIVE", act.table), fix=fix)


def _sql_literal(shown: str) -> str:
    """A default as Ecto wrote it (`False`, `'x'`, `0`) in SQL."""
    if shown in ("True", "False"):
        return shown.lower()
    if shown == "None":
        return "NULL"
    if shown[:1] in ("'", '"') and shown[-1:] == shown[:1]:
        return "'" + shown[1:-1].replace("'", "''") + "'"
    return shown
