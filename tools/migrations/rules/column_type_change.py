from __future__ import annotations

from typing import Iterable

from tools.migrations.actions import AlterTypeAct, PgType
from tools.migrations.rules.base import Context, Example, Finding, Rule, described, lock_text, q


def rewrite_needed(old: PgType, new: PgType, pg_version: int) -> tuple[bool | None, str]:
    """(False, why) when ALTER COLUMN TYPE needs no rewrite, (None, caveat) when that depends
    on the session, (True, why) when the table is rewritten. The list is PostgreSQL's
    binary-coercible casts as strong_migrations' PostgreSQL adapter lists them."""
    if old == new:
        return False, "the type is unchanged"
    if old.array != new.array:
        return True, f"{old} to {new} converts every value"
    o, n = old.name, new.name
    if o == "varchar" and n == "varchar":
        if not new.mods:
            return False, "removing a varchar limit"
        if old.mods and new.mods[0] >= old.mods[0]:
            return False, "increasing a varchar limit"
        return True, "a shorter varchar limit checks every row"
    if o == "varchar" and n in ("text", "citext") or o == "text" and n == "varchar" and not new.mods:
        return False, f"{old} to {new} is binary compatible"
    if {o, n} == {"text", "citext"}:
        return False, f"{old} to {new} is binary compatible (indexes on it are rebuilt)"
    if o == "numeric" and n == "numeric":
        if not new.mods:
            return False, "making numeric unconstrained"
        if len(old.mods) == 2 and len(new.mods) == 2 and new.mods[1] == old.mods[1] and \
                new.mods[0] >= old.mods[0]:
            return False, "increasing numeric precision at the same scale"
        return True, f"{old} to {new} changes the scale or shrinks the precision"
    if o == n and o in ("timestamp", "timestamptz", "time", "timetz", "interval"):
        if not new.mods or (old.mods and new.mods[0] >= old.mods[0]):
            return False, f"increasing {o} precision"
        return True, f"decreasing {o} precision rounds every value"
    if o == "timestamp" and n == "timestamptz":
        if pg_version >= 12:
            return None, ("timestamp to timestamptz is metadata-only on PostgreSQL 12+ only when the "
                          "session TimeZone is UTC; otherwise every row is rewritten")
        return True, "timestamp to timestamptz rewrites before PostgreSQL 12"
    if o == "cidr" and n == "inet":
        return False, "cidr to inet is binary compatible"
    if o == "bpchar" and n in ("varchar", "text") and not new.mods:
        return True, "char(n) to varchar/text trims every value"
    return True, f"{old} to {new} converts every value"


def current_type(ctx: Context, act: AlterTypeAct) -> PgType | None:
    if act.old is not None:
        return act.old
    col = ctx.state.column(act.table, act.column)
    return col.type if col is not None else None


def is_primary_key(ctx: Context, act: AlterTypeAct) -> bool:
    col = ctx.state.column(act.table, act.column)
    if col is not None:
        return col.primary_key
    return act.primary_key or act.column == "id"


def changes_null_or_default_only(ctx: Context, act: AlterTypeAct) -> bool:
    """A `modify` whose type is the current one (or cannot be told) but that sets null:/default:."""
    if not act.via_modify or (act.sets_null is None and not act.sets_default):
        return False
    old = current_type(ctx, act)
    return old is None or old == act.new


class ColumnTypeChange(Rule):
    """Fires on `modify` and `ALTER COLUMN … TYPE` on a table the migration did not create.
    `modify` always emits ALTER COLUMN TYPE, even when only `null:` or `default:` changes;
    that case is modify-null-or-default's. The current type comes from `from:` or from the
    earlier migrations the run read.

    Severity: `info` for changes PostgreSQL does without a rewrite (longer or unlimited
    varchar, varchar to text, more numeric precision at the same scale, more timestamp
    precision such as :naive_datetime to :naive_datetime_usec, cidr to inet); `warning` for
    timestamp to timestamptz (metadata-only on PG12+ only with a UTC session); `error` for
    everything else, and when the current type is not known. Primary keys are
    primary-key-type-change's."""

    id = "column-type-change"
    title = "Column type change"
    severity = "error"
    lock = "ACCESS EXCLUSIVE on the table; with a rewrite, for as long as every row and index is rewritten"
    catches = "`modify :views, :bigint` on an existing table (from :integer)."
    why = ("ALTER COLUMN TYPE takes ACCESS EXCLUSIVE, and unless the new type is binary "
           "compatible it rewrites the table and rebuilds its indexes, blocking all access "
           "for the duration.")
    safe = """
        # phased: new column, write both, backfill, switch reads, drop the old one
        alter table(:posts) do
          add :views_big, :bigint
        end
        # ... deploy code writing both, backfill in batches, switch reads, then remove :views
    """
    excellent_migrations = ("column_type_changed",)
    also_in = "squawk changing-column-type; strong_migrations change_column; eugene E5"
    examples = [
        Example("def change do\n  alter table(:posts) do\n    modify :views, :bigint, from: :integer\n  end\nend",
                fires=True),
        Example("def change do\n  alter table(:posts) do\n    modify :title, :text, from: :string\n  end\nend",
                fires=True, severity="info", note="varchar to text needs no rewrite"),
        Example("def change do\n  alter table(:posts) do\n    modify :title, :string, size: 500\n  end\nend",
                fires=True, severity="info",
                before=("def change do\n  create table(:posts) do\n    add :title, :string\n  end\nend",),
                note="the current type comes from the earlier migration"),
        Example("def change do\n  alter table(:posts) do\n    modify :body, :integer\n  end\nend", fires=True,
                severity="error", note="the current type is unknown"),
        Example('def up do\n  execute "ALTER TABLE posts ALTER COLUMN views TYPE bigint"\nend', fires=True),
        Example("def change do\n  create table(:posts) do\n    add :views, :integer\n  end\n\n"
                "  alter table(:posts) do\n    modify :views, :bigint\n  end\nend", fires=False),
    ]

    def check(self, ctx: Context) -> Iterable[Finding]:
        for act in ctx.of(AlterTypeAct):
            if not ctx.existing(act.table) or act.new is None:
                continue
            if changes_null_or_default_only(ctx, act):
                continue
            old = current_type(ctx, act)
            if old is not None and old == act.new:
                continue
            how = "modify" if act.via_modify else "ALTER COLUMN TYPE"
            if old is None:
                if is_primary_key(ctx, act):
                    continue
                yield self.finding(
                    ctx, act, f"{how} on {act.table}.{act.column} changes the type to {act.new}"
                              f"{described(act)}; its current type is unknown here (give `from:`), and "
                              "unless the cast is binary compatible the table is rewritten",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table),
                    fix=f"modify {q(act.column)}, <new type>, from: <current type>  # lets the linter tell")
                continue
            rewrite, why = rewrite_needed(old, act.new, ctx.settings.pg_version)
            if rewrite and is_primary_key(ctx, act):
                continue
            if rewrite is False:
                yield self.finding(
                    ctx, act, f"{how} on {act.table}.{act.column}: {why}, so no rewrite; still a brief "
                              "ACCESS EXCLUSIVE lock", severity="info",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table, note=", briefly"))
            elif rewrite is None:
                yield self.finding(
                    ctx, act, f"{how} on {act.table}.{act.column}: {why}", severity="warning",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table),
                    fix="execute \"SET LOCAL TimeZone = 'UTC'\"  # before the change, in the same migration")
            else:
                yield self.finding(
                    ctx, act, f"{how} on {act.table}.{act.column}{described(act)}: {why}, so the table "
                              "and its indexes are rewritten while nothing can read or write it",
                    lock=lock_text("ACCESS EXCLUSIVE", act.table),
                    fix=(f"# phased change instead:\nalter table({q(act.table)}) do\n"
                         f"  add {q(act.column + '_new')}, <new type>\nend\n"
                         "# deploy code writing both, backfill in batches, switch reads, then drop the old column"))
