from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import SERIAL_TYPES, CreateTableAct
from tools.migrations.rules.base import Context, Example, Finding, Rule


class PreferIdentity(Rule):
    """Fires once per `create table` whose key is serial/bigserial: Ecto's default primary key,
    unless the repo sets `migration_primary_key` (e.g. `[type: :identity]` or `:binary_id`)."""

    id = "prefer-identity"
    title = "serial primary key"
    severity = "info"
    lock = "none"
    catches = "`create table(:posts)` with Ecto's default `id bigserial`."
    why = ("Identity columns are the SQL-standard form of serial: the sequence belongs to the "
           "column, permissions follow the table, and GENERATED ALWAYS can refuse stray ids.")
    safe = """
        # config: config :my_app, MyApp.Repo, migration_primary_key: [type: :identity]
        create table(:posts, primary_key: [name: :id, type: :identity])
    """
    also_in = "squawk prefer-identity"
    examples = [
        Example("def change do\n  create table(:posts) do\n    add :title, :text\n  end\nend", fires=True),
        Example("def change do\n  create table(:posts, primary_key: [name: :id, type: :identity]) do\n"
                "    add :title, :text\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(CreateTableAct):
            cols = ([act.implicit_pk] if act.implicit_pk else []) + act.columns
            serial = [c.name for c in cols if c.type is not None and c.type.name in SERIAL_TYPES]
            if serial:
                yield self.finding(ctx, act, f"{act.table}: {', '.join(serial)} is serial; an identity "
                                             "column is the modern form")
