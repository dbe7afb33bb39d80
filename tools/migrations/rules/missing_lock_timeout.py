from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import (
    Action, AddCheckAct, AddColumnAct, AddExclusionAct, AddForeignKeyAct, AddPrimaryKeyAct,
    AddUniqueAct, AlterTypeAct, CreateIndexAct, DropColumnAct, DropIndexAct, DropNotNullAct,
    DropTableAct, MaintenanceAct, RenameColumnAct, RenameTableAct, SetDefaultAct, SetNotNullAct,
    SettingAct,
)
from tools.migrations.rules.base import Context, Example, Finding, Rule

_STRONG = (AddCheckAct, AddColumnAct, AddExclusionAct, AddForeignKeyAct, AddPrimaryKeyAct,
           AddUniqueAct, AlterTypeAct, DropColumnAct, DropNotNullAct, DropTableAct,
           RenameColumnAct, RenameTableAct, SetDefaultAct, SetNotNullAct)


def takes_strong_lock(ctx: Context, act: Action) -> bool:
    if not ctx.existing(act.table) and not isinstance(act, DropIndexAct):
        return False
    if isinstance(act, _STRONG):
        return True
    if isinstance(act, (CreateIndexAct, DropIndexAct, MaintenanceAct)):
        return not act.concurrently
    return False


class MissingLockTimeout(Rule):
    """Fires once per migration that takes ACCESS EXCLUSIVE, EXCLUSIVE, SHARE ROW EXCLUSIVE or
    SHARE on an existing table with no lock_timeout in sight: none set in the migration (execute
    or `after_begin/0`), none in the repo's `parameters:`, and no custom `use MyApp.Migration`
    module that could inject one."""

    id = "missing-lock-timeout"
    title = "Strong lock without lock_timeout"
    severity = "info"
    lock = "whatever the migration takes, for as long as it waits for it"
    catches = "`alter table(:posts) do add :slug, :string end` with no lock_timeout."
    why = ("Even an instant ALTER waits for the lock behind any long-running query, and every "
           "query on the table queues behind the ALTER while it waits. A lock_timeout turns that "
           "outage into a failed, retryable migration.")
    safe = """
        def after_begin do
          execute "SET LOCAL lock_timeout TO '5s'", "SET LOCAL lock_timeout TO '10s'"
        end
    """
    also_in = "squawk require-lock-timeout; eugene E9; strong_migrations lock_timeout"
    examples = [
        Example("def change do\n  alter table(:posts) do\n    add :slug, :string\n  end\nend", fires=True),
        Example("def after_begin do\n  execute \"SET LOCAL lock_timeout TO '5s'\", \"SET LOCAL lock_timeout TO '10s'\"\n"
                "end\n\ndef change do\n  alter table(:posts) do\n    add :slug, :string\n  end\nend",
                fires=False),
        Example("def change do\n  alter table(:posts) do\n    add :slug, :string\n  end\nend", fires=False,
                options={"lock_timeout_configured": True}, note="set in the repo's parameters"),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        if ctx.settings.lock_timeout_configured or any(
                isinstance(a, SettingAct) and a.name == "lock_timeout" for a in ctx.actions):
            return
        if any(u != "Ecto.Migration" for u in ctx.migration.uses):
            return
        for act in ctx.actions:
            if takes_strong_lock(ctx, act):
                yield self.finding(ctx, act, "this migration takes a strong lock on an existing table "
                                             "with no lock_timeout: behind one long query it waits, and "
                                             "every query on the table waits behind it",
                                   fix="def after_begin do\n  execute \"SET LOCAL lock_timeout TO '5s'\", "
                                       "\"SET LOCAL lock_timeout TO '10s'\"\nend")
                return
