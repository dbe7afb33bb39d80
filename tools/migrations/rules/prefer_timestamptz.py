from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AddColumnAct, CreateTableAct
from tools.migrations.rules.base import Context, Example, Finding, Rule


class PreferTimestamptz(Rule):
    """Fires once per statement on columns of type `timestamp` (without time zone): Ecto's
    `timestamps()`, `:naive_datetime` and `:utc_datetime` all become timestamp(0). Style only:
    the repo's `migration_timestamps: [type: :timestamptz]` or `timestamps(type: :timestamptz)`
    changes it."""

    id = "prefer-timestamptz"
    title = "timestamp without time zone"
    severity = "info"
    lock = "none"
    catches = "`timestamps()`, `add :sent_at, :utc_datetime`."
    why = ("timestamp has no zone, so the meaning depends on every writer agreeing on UTC; "
           "timestamptz stores an instant. Ecto's default is timestamp(0), which also drops "
           "sub-second precision.")
    safe = """
        # config: config :my_app, MyApp.Repo, migration_timestamps: [type: :utc_datetime_usec]
        timestamps(type: :timestamptz)
    """
    also_in = "squawk prefer-timestamp-tz"
    examples = [
        Example("def change do\n  create table(:posts) do\n    timestamps()\n  end\nend", fires=True, count=1),
        Example("def change do\n  create table(:posts) do\n    timestamps(type: :timestamptz)\n  end\nend",
                fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.actions:
            cols = act.columns if isinstance(act, CreateTableAct) else \
                [act.column] if isinstance(act, AddColumnAct) else []
            names = [c.name for c in cols if c.type is not None and c.type.name == "timestamp"]
            if names:
                yield self.finding(ctx, act, f"{act.table}: {', '.join(names)} "
                                             f"{'is' if len(names) == 1 else 'are'} timestamp without time zone")
