"""Which tables to partition, by what, and the migrations that do it on a live table.

A candidate is a large table (at least `min_rows` live rows) that is append-mostly (updates at
most 10% of inserts; deletes are welcome: retention by DELETE becomes dropping a partition),
with a date or timestamp column that the workload's queries filter on by range and that rows
arrive in order of (pg_stats correlation at least 0.9 in absolute value). It gets range
partitioning on that column. A table without such a column, whose queries look rows up by a
column with many evenly spread values, gets hash partitioning instead.

The range plan never copies the existing rows: the table itself becomes the first partition.
A CHECK constraint added NOT VALID and validated separately (SHARE UPDATE EXCLUSIVE: reads and
writes go on) proves its rows fit the partition's bound, so ATTACH PARTITION skips the scan it
would otherwise make under an ACCESS EXCLUSIVE lock; the primary key the partitioned table needs
(it must include the partition key) is built beforehand with CREATE UNIQUE INDEX CONCURRENTLY
and swapped in with ADD PRIMARY KEY USING INDEX, so nothing is built while locks are held.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, Field

from tools.explain.ecto_fix import elixir_string, quote_ident
from tools.partitioning.predicates import column_uses
from tools.partitioning.workload import Statement, TableActivity, fmt_bytes
from tools.rewrites.catalog import Table

TIME_TYPES = ("timestamp without time zone", "timestamp with time zone", "date")


def is_time_type(type_: str) -> bool:
    """Ecto's timestamps() are `timestamp(0) without time zone`: the precision does not matter."""
    return re.sub(r"\(\d+\)", "", type_) in TIME_TYPES
MAX_UPDATE_RATIO = 0.1
MIN_CORRELATION = 0.9
FUTURE_PARTITIONS = 3
HASH_MODULUS = 16
MIN_HASH_DISTINCT = 1000


class QueryUse(BaseModel):
    query: str
    calls: int
    total_ms: float
    conditions: list[str]
    kind: str  # "range", "equality", "wrapped"


class Migration(BaseModel):
    path: str
    content: str
    why: str


class Proposal(BaseModel):
    table: str
    strategy: str  # "range" or "hash"
    key: str
    key_type: str
    interval: str | None = None  # "day", "month", "year" for range
    cutoff: str | None = None  # the existing table holds everything before this
    rows: int
    size: str
    inserts: int
    updates: int
    deletes: int
    correlation: float | None = None
    span: str | None = None
    queries: list[QueryUse] = Field(default_factory=list)
    plans: list[str] = Field(default_factory=list)
    why: list[str] = Field(default_factory=list)
    migrations: list[Migration] = Field(default_factory=list)
    management: str = ""
    blockers: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Skipped(BaseModel):
    table: str
    reason: str


def consider(table: Table, activity: TableActivity, statements: list[Statement], *, min_rows: int,
             now: dt.datetime, referencing: list[str], bounds: tuple[Any, Any] | None,
             indexes: list[tuple[str, str, bool, bool]], app: str = "MyApp") -> Proposal | Skipped:
    """`indexes`: (name, definition, is_unique, is_primary) of the table's indexes."""
    rows = max(activity.live_rows, int(table.rows))
    if table.kind == "p":
        return Skipped(table=table.name, reason="already partitioned (check its queries with --sql)")
    if rows < min_rows:
        return Skipped(table=table.name, reason=f"{rows:,} rows, below the {min_rows:,} that make partitioning pay")
    if activity.inserts and activity.updates > MAX_UPDATE_RATIO * activity.inserts:
        return Skipped(table=table.name, reason=(f"not append-mostly: {activity.updates:,} updates for "
                                                 f"{activity.inserts:,} inserts"))
    mine = [s for s in statements if table.name in s.tables and s.writes is None]
    best: tuple[float, str, list[QueryUse]] | None = None
    for col in table.columns.values():
        if not is_time_type(col.type):
            continue
        uses = _uses(mine, table.name, col.name)
        ranged = [u for u in uses if u.kind in ("range", "equality", "wrapped")]
        if not ranged:
            continue
        weight = sum(u.total_ms for u in ranged)
        if best is None or weight > best[0]:
            best = (weight, col.name, ranged)
    base = dict(table=table.name, rows=rows, size=fmt_bytes(activity.size_bytes), inserts=activity.inserts,
                updates=activity.updates, deletes=activity.deletes)
    if best is not None:
        _, key, uses = best
        col = table.columns[key]
        if col.correlation is not None and abs(col.correlation) < MIN_CORRELATION:
            return Skipped(table=table.name, reason=(
            f"{key} is filtered on, but rows do not arrive in its order (pg_stats correlation "
            f"{col.correlation:.2f}): not a time series"))
        return _range(table, col, uses, base, now=now, referencing=referencing, bounds=bounds, indexes=indexes,
                      app=app)
    hashed = _hash_candidate(table, mine)
    if hashed is not None:
        key, uses = hashed
        return _hash(table, table.columns[key], uses, base, referencing=referencing, app=app, now=now)
    return Skipped(table=table.name, reason="no query filters on a date/time column (nor looks rows up by an evenly "
                                            "spread key): partitions would all be read anyway")


def _uses(statements: list[Statement], table: str, column: str) -> list[QueryUse]:
    out = []
    for s in statements:
        found = column_uses(s.select, table, column) if s.select is not None else []
        if not found:
            continue
        kind = "wrapped" if all(u.kind == "wrapped" for u in found) else (
            "range" if any(u.kind == "range" for u in found) else "equality")
        out.append(QueryUse(query=s.query, calls=s.calls, total_ms=round(s.total_ms, 1),
                            conditions=[u.text for u in found], kind=kind))
    return sorted(out, key=lambda u: -u.total_ms)


def _hash_candidate(table: Table, statements: list[Statement]) -> tuple[str, list[QueryUse]] | None:
    best = None
    for col in table.columns.values():
        if col.n_distinct is None:
            continue
        distinct = col.n_distinct if col.n_distinct > 0 else -col.n_distinct * table.rows
        if distinct < MIN_HASH_DISTINCT:
            continue
        uses = [u for u in _uses(statements, table.name, col.name) if u.kind == "equality"]
        if not uses:
            continue
        weight = sum(u.total_ms for u in uses)
        if best is None or weight > best[0]:
            best = (weight, col.name, uses)
    return (best[1], best[2]) if best else None


# ---- range -----------------------------------------------------------------------------------------

def interval_for(rows: int, first: dt.datetime | None, last: dt.datetime | None) -> tuple[str, float | None]:
    """Monthly unless the table grows by more than ~1M rows a day (daily) or less than ~30k
    rows a month (yearly): partitions of a few million rows each, and at most a few hundred."""
    if first is None or last is None or last <= first:
        return "month", None
    days = max((last - first).total_seconds() / 86400, 1.0)
    per_day = rows / days
    if per_day > 1_000_000:
        return "day", per_day
    if per_day * 30 < 30_000:
        return "year", per_day
    return "month", per_day


def truncate(moment: dt.datetime, interval: str) -> dt.datetime:
    if interval == "day":
        return dt.datetime(moment.year, moment.month, moment.day)
    if interval == "year":
        return dt.datetime(moment.year, 1, 1)
    return dt.datetime(moment.year, moment.month, 1)


def step(moment: dt.datetime, interval: str, n: int = 1) -> dt.datetime:
    if interval == "day":
        return moment + dt.timedelta(days=n)
    if interval == "year":
        return moment.replace(year=moment.year + n)
    month = moment.month - 1 + n
    return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)


def partition_name(table: str, start: dt.datetime, interval: str) -> str:
    fmt = {"day": "%Y_%m_%d", "month": "%Y_%m", "year": "%Y"}[interval]
    return f"{table}_p{start.strftime(fmt)}"


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None


def _literal(moment: dt.datetime, key_type: str) -> str:
    return f"'{moment.date().isoformat()}'" if key_type == "date" or moment.time() == dt.time() else \
        f"'{moment.isoformat(sep=' ')}'"


def _range(table: Table, col, uses: list[QueryUse], base: dict, *, now: dt.datetime, referencing: list[str],
           bounds, indexes, app: str) -> Proposal:
    first, last = (_as_datetime(b) for b in (bounds or (None, None)))
    interval, per_day = interval_for(base["rows"], first, last)
    latest = max(now, last) if last else now
    # The existing table keeps everything before the cutoff: the start of the interval after the
    # next one, so the migrations have a whole interval to be deployed in before rows pass it.
    cutoff = step(truncate(latest, interval), interval, 2)
    key = col.name
    proposal = Proposal(strategy="range", key=key, key_type=col.type, interval=interval,
                        cutoff=cutoff.isoformat(sep=" "), correlation=col.correlation, queries=uses[:5], **base)
    if first and last:
        proposal.span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" + (f", about {per_day:,.0f} rows a day"
                                                                  if per_day else "")
    writes = (f"append-mostly: {base['inserts']:,} inserts, {base['updates']:,} updates, {base['deletes']:,} "
              "deletes since the statistics were reset") if base["inserts"] or base["updates"] or base["deletes"] \
        else "no writes recorded since the statistics were reset (append-mostly not confirmed)"
    proposal.why = [
        f"{base['rows']:,} rows ({base['size']}), {writes}",
        f"{len(uses)} quer{'y filters' if len(uses) == 1 else 'ies filter'} on {key} "
        f"({sum(u.calls for u in uses):,} calls, {sum(u.total_ms for u in uses):,.0f} ms in total): with "
        f"{interval}ly partitions a recent window reads one or two partitions, not the whole table",
    ]
    if col.correlation is not None:
        proposal.why.append(f"rows arrive in {key} order (pg_stats correlation {col.correlation:.2f}), so each "
                            "partition is written while it is current, then only read")
    if base["deletes"]:
        proposal.why.append(f"{base['deletes']:,} deletes: if they remove old rows, dropping or detaching a whole "
                            "partition replaces them, without vacuum debt")
    wrapped = [u for u in uses if u.kind == "wrapped"]
    if wrapped:
        proposal.notes.append(f"{len(wrapped)} quer{'y hides' if len(wrapped) == 1 else 'ies hide'} {key} inside a "
                              f"function or cast ({wrapped[0].conditions[0]}): rewrite as a range on the bare column "
                              "or those queries will read every partition")
    proposal.blockers = _blockers(table, key, referencing, indexes)
    proposal.migrations = range_migrations(table, key, col.type, col.not_null, interval, cutoff, indexes, app, now)
    proposal.management = range_management(table.name, interval, cutoff, app,
                                           partition_name(table.name, truncate(first or now, interval), interval))
    proposal.notes.append(
        f"Until {cutoff:%Y-%m-%d} new rows still land in the old table (now the partition "
        f"{table.name}_legacy); run the migrations before then, or regenerate them with a later cutoff, since "
        "the CHECK constraint rejects later rows until the swap.")
    proposal.notes.append(f"{table.name}_legacy keeps all history in one partition; retire it when its rows pass "
                          "your retention (DETACH PARTITION ... CONCURRENTLY, then DROP TABLE), or move its rows "
                          "into per-interval partitions in batches if you need to drop them piecemeal.")
    return proposal


def _blockers(table: Table, key: str, referencing: list[str], indexes) -> list[str]:
    out = []
    for ref in referencing:
        out.append(f"{ref} references {table.name}: a foreign key to a partitioned table must point at a unique "
                   f"key that includes {key}, so it has to be dropped (or changed to include {key}) first")
    for name, definition, unique, primary in indexes:
        if unique and not primary and key not in _index_columns(definition):
            out.append(f"unique index {name} does not include {key}: a partitioned table can only enforce "
                       "uniqueness across partitions on keys that contain the partition key")
    if not table.primary_key:
        out.append(f"{table.name} has no primary key; Ecto schemas usually rely on one")
    return out


def _index_columns(definition: str) -> list[str]:
    m = re.search(r"\((.*)\)", definition)
    return [c.strip().strip('"') for c in m.group(1).split(",")] if m else []


def _stamp(base: dt.datetime, n: int) -> str:
    return (base + dt.timedelta(seconds=n)).strftime("%Y%m%d%H%M%S")


def range_migrations(table: Table, key: str, key_type: str, not_null: bool, interval: str, cutoff: dt.datetime,
                     indexes, app: str, now: dt.datetime | None = None) -> list[Migration]:
    t = table.name
    new = f"{t}_partitioned"
    legacy = f"{t}_legacy"
    pk = table.primary_key
    stamp = now or dt.datetime.now()
    q = quote_ident
    up1 = [f"CREATE TABLE {q(new)} (LIKE {q(t)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE "
           f"INCLUDING COMMENTS) PARTITION BY RANGE ({q(key)})"]
    if pk:
        new_pk = pk + ([key] if key not in pk else [])
        up1.append(f"ALTER TABLE {q(new)} ADD PRIMARY KEY ({', '.join(q(c) for c in new_pk)})")
    else:
        new_pk = []
    for name, definition, unique, primary in indexes:
        if primary or unique:
            continue
        # The same definition on the parent: ATTACH then adopts the old table's index instead of building one.
        on = re.sub(r"^CREATE INDEX \S+ ON (ONLY )?\S+", f"CREATE INDEX {q(new + '_' + name)} ON {q(new)}", definition)
        up1.append(on)
    start = cutoff
    for _ in range(FUTURE_PARTITIONS):
        stop = step(start, interval)
        up1.append(f"CREATE TABLE {q(partition_name(t, start, interval))} PARTITION OF {q(new)} FOR VALUES FROM "
                   f"({_literal(start, key_type)}) TO ({_literal(stop, key_type)})")
        start = stop
    migrations = [Migration(
        path=f"priv/repo/migrations/{_stamp(stamp, 1)}_create_{t}_partitioned.exs",
        content=_execute_module(app, f"create_{t}_partitioned", up1, [f"DROP TABLE {q(new)}"]),
        why=(f"an empty partitioned copy of {t} with its indexes and the next {FUTURE_PARTITIONS} {interval}ly "
             "partitions; nothing touches the live table"))]
    if pk:
        index_name = f"{t}_{'_'.join(new_pk)}_index"
        cols = ", ".join(f":{c}" for c in new_pk)
        migrations.append(Migration(
            path=f"priv/repo/migrations/{_stamp(stamp, 2)}_add_{index_name}.exs",
            content=ecto_module(app, f"add_{index_name}",
                                [f"create unique_index(:{t}, [{cols}], concurrently: true)"], concurrent=True),
            why=(f"the unique index the new primary key ({', '.join(new_pk)}) needs, built without blocking writes; "
                 "the swap turns it into the old table's primary key")))
    check_name = f"{t}_{key}_before_cutoff"
    bound = f"{key} < {_literal(cutoff, key_type)}"
    if not not_null:
        bound = f"{key} IS NOT NULL AND {bound}"
    migrations.append(Migration(
        path=f"priv/repo/migrations/{_stamp(stamp, 3)}_add_{check_name}.exs",
        content=ecto_module(app, f"add_{check_name}", [
            f"create constraint(:{t}, :{check_name}, check: {elixir_string(bound)}, validate: false)"]),
        why="the bound of the old table's partition as a CHECK constraint, NOT VALID: a brief lock, no scan"))
    migrations.append(Migration(
        path=f"priv/repo/migrations/{_stamp(stamp, 4)}_validate_{check_name}.exs",
        content=_execute_module(app, f"validate_{check_name}",
                                [f"ALTER TABLE {q(t)} VALIDATE CONSTRAINT {q(check_name)}"], []),
        why="validates the CHECK by a scan under SHARE UPDATE EXCLUSIVE: reads and writes continue"))
    up5 = ["SET LOCAL lock_timeout = '5s'"]
    down5 = ["SET LOCAL lock_timeout = '5s'"]
    if pk:
        old_pk = f"{t}_pkey"
        up5.append(f"ALTER TABLE {q(t)} DROP CONSTRAINT {q(old_pk)}, ADD CONSTRAINT {q(legacy + '_pkey')} "
                   f"PRIMARY KEY USING INDEX {q(index_name)}")
    up5 += [f"ALTER TABLE {q(t)} RENAME TO {q(legacy)}",
            f"ALTER TABLE {q(new)} RENAME TO {q(t)}",
            f"ALTER TABLE {q(t)} ATTACH PARTITION {q(legacy)} FOR VALUES FROM (MINVALUE) "
            f"TO ({_literal(cutoff, key_type)})"]
    sequences = [c for c, col in table.columns.items() if c in pk and "int" in col.type]
    for c in sequences:
        # The id sequence belongs to the old table's column; dropping that partition one day must not drop it.
        up5.append(f"ALTER SEQUENCE IF EXISTS {q(t + '_' + c + '_seq')} OWNED BY {q(t)}.{q(c)}")
    down5 += [f"ALTER TABLE {q(t)} DETACH PARTITION {q(legacy)}",
              f"ALTER TABLE {q(t)} RENAME TO {q(new)}",
              f"ALTER TABLE {q(legacy)} RENAME TO {q(t)}"]
    for c in sequences:
        down5.append(f"ALTER SEQUENCE IF EXISTS {q(t + '_' + c + '_seq')} OWNED BY {q(t)}.{q(c)}")
    if pk:
        down5.append(f"ALTER TABLE {q(t)} DROP CONSTRAINT {q(legacy + '_pkey')}, ADD CONSTRAINT {q(t + '_pkey')} "
                     f"PRIMARY KEY ({', '.join(q(c) for c in pk)})")
    migrations.append(Migration(
        path=f"priv/repo/migrations/{_stamp(stamp, 5)}_swap_{t}_for_partitioned.exs",
        content=_execute_module(app, f"swap_{t}_for_partitioned", up5, down5),
        why=(f"the swap, in one short transaction: {t} becomes {legacy}, the partitioned table takes its name, and "
             f"{legacy} is attached as the partition of everything before the cutoff. The CHECK constraint lets "
             "ATTACH skip its scan; the locks last milliseconds (lock_timeout 5s: if the table is busy the "
             "migration fails instead of queueing every query behind it - just run it again)")))
    migrations.append(Migration(
        path=f"priv/repo/migrations/{_stamp(stamp, 6)}_add_{t}_partition_function.exs",
        content=_execute_module(app, f"add_{t}_partition_function", [_partition_function(t, key_type, interval,
                                                                                          cutoff)],
                                [f"DROP FUNCTION IF EXISTS {q(t + '_create_partitions')}(integer)"]),
        why="a function that creates the coming partitions, for the scheduled job to call"))
    return migrations


def _partition_function(table: str, key_type: str, interval: str, cutoff: dt.datetime) -> str:
    fmt = {"day": "YYYY_MM_DD", "month": "YYYY_MM", "year": "YYYY"}[interval]
    cast = "date" if key_type == "date" else re.sub(r"\(\d+\)", "", key_type)
    return (f"CREATE OR REPLACE FUNCTION {quote_ident(table + '_create_partitions')}(ahead integer) RETURNS void "
            f"LANGUAGE plpgsql AS $$\n"
            f"DECLARE\n  start timestamp;\n  stop timestamp;\n"
            f"BEGIN\n"
            f"  FOR i IN 0..ahead LOOP\n"
            f"    -- never before the cutoff: everything earlier belongs to the legacy partition\n"
            f"    start := greatest(date_trunc('{interval}', now()::timestamp) + make_interval({interval}s => i), "
            f"timestamp '{cutoff:%Y-%m-%d %H:%M:%S}');\n"
            f"    stop := start + interval '1 {interval}';\n"
            f"    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',\n"
            f"                   '{table}_p' || to_char(start, '{fmt}'), '{table}', start::{cast}, stop::{cast});\n"
            f"  END LOOP;\n"
            f"END\n$$")


def ecto_module(app: str, name: str, body: list[str], *, concurrent: bool = False) -> str:
    """A migration file whose `change/0` is `body`; a concurrent one alone with both attributes
    (CONCURRENTLY cannot run in a transaction, and would wait forever on the migration lock)."""
    module = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    lines = [f"defmodule {app}.Repo.Migrations.{module} do", "  use Ecto.Migration"]
    if concurrent:
        lines += ["  @disable_ddl_transaction true", "  @disable_migration_lock true"]
    lines += ["", "  def change do"] + [f"    {line}" for line in body] + ["  end", "end"]
    return "\n".join(lines)


def _execute_module(app: str, name: str, up: list[str], down: list[str]) -> str:
    """A migration of raw statements: `change/0` with `execute(up, down)` for a single pair, else
    explicit `up/0` and `down/0`, whose order on rollback is then the one written."""
    module = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    lines = [f"defmodule {app}.Repo.Migrations.{module} do", "  use Ecto.Migration", ""]
    if len(up) == 1 and len(down) == 1:
        lines += ["  def change do", f"    execute {_ex(up[0])}, {_ex(down[0])}", "  end"]
    else:
        lines += ["  def up do"] + [f"    execute {_ex(s)}" for s in up] + ["  end", ""]
        if down:
            lines += ["  def down do"] + [f"    execute {_ex(s)}" for s in down] + ["  end"]
        else:
            lines.append("  def down, do: :ok")
    lines.append("end")
    return "\n".join(lines)


def _ex(sql: str) -> str:
    if "\n" in sql:
        body = sql.replace("\\", "\\\\").replace('"""', '\\"""').replace("#{", "\\#{")
        return '"""\n' + "\n".join("    " + line for line in body.splitlines()) + '\n    """'
    return elixir_string(sql)


def range_management(table: str, interval: str, cutoff: dt.datetime, app: str, oldest: str) -> str:
    worker = "".join(p.capitalize() for p in table.split("_"))
    return f"""# Partitions must exist before rows arrive: an insert with no partition for it fails.
# Create the next {FUTURE_PARTITIONS} {interval}s' partitions every day; it is idempotent (CREATE TABLE IF NOT EXISTS).

# With Oban (config/config.exs):
#   config :{_atom(app)}, Oban,
#     plugins: [{{Oban.Plugins.Cron, crontab: [{{"0 3 * * *", {app}.Workers.Create{worker}Partitions}}]}}]
defmodule {app}.Workers.Create{worker}Partitions do
  use Oban.Worker, queue: :maintenance, max_attempts: 3

  @impl Oban.Worker
  def perform(_job) do
    {app}.Repo.query!("SELECT {table}_create_partitions($1)", [{FUTURE_PARTITIONS}])
    :ok
  end
end

# Or with pg_cron, inside the database:
#   SELECT cron.schedule('{table}-partitions', '0 3 * * *', $$SELECT {table}_create_partitions({FUTURE_PARTITIONS})$$);

# Retention: drop whole partitions instead of DELETE (no dead rows, no vacuum):
#   ALTER TABLE {table} DETACH PARTITION {oldest} CONCURRENTLY;  -- PostgreSQL 14+, outside a transaction
#   DROP TABLE {oldest};
# Alert when the newest partition ends less than one {interval} ahead: a stopped job is a failing insert later."""


def _atom(app: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", app).lower()


# ---- hash ------------------------------------------------------------------------------------------

def _hash(table: Table, col, uses: list[QueryUse], base: dict, *, referencing: list[str], app: str,
          now: dt.datetime) -> Proposal:
    t, key = table.name, col.name
    q = quote_ident
    new = f"{t}_partitioned"
    proposal = Proposal(strategy="hash", key=key, key_type=col.type, queries=uses[:5], **base)
    proposal.why = [
        f"{base['rows']:,} rows ({base['size']}), append-mostly",
        f"its queries look rows up by {key} ({sum(u.calls for u in uses):,} calls), whose values are many and "
        f"evenly spread: {HASH_MODULUS} hash partitions keep each lookup, index and vacuum to 1/{HASH_MODULUS} "
        "of the table",
    ]
    pk = table.primary_key + ([key] if table.primary_key and key not in table.primary_key else [])
    up = [f"CREATE TABLE {q(new)} (LIKE {q(t)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY HASH ({q(key)})"]
    if pk:
        up.append(f"ALTER TABLE {q(new)} ADD PRIMARY KEY ({', '.join(q(c) for c in pk)})")
    for i in range(HASH_MODULUS):
        up.append(f"CREATE TABLE {q(f'{t}_h{i:02d}')} PARTITION OF {q(new)} FOR VALUES WITH (MODULUS {HASH_MODULUS}, "
                  f"REMAINDER {i})")
    proposal.migrations = [Migration(
        path=f"priv/repo/migrations/{_stamp(now, 1)}_create_{t}_partitioned.exs",
        content=_execute_module(app, f"create_{t}_partitioned", up, [f"DROP TABLE {q(new)}"]),
        why="the hash-partitioned table, empty")]
    proposal.blockers = _blockers(table, key, referencing, [])
    proposal.notes.append("Unlike range partitioning, the existing rows cannot be attached as one partition: they "
                          "belong to every partition. Copy them in batches (by primary key ranges, in a "
                          "background job), write new rows to both tables meanwhile (a trigger or the app), then "
                          "swap the names in one short transaction.")
    proposal.management = ("# Hash partitions need no schedule: their number is fixed. Choose the modulus for the "
                           "size you expect in a few years; changing it means copying the table again.")
    return proposal


def render_proposal(p: Proposal) -> str:
    lines = [f"{p.table}: {p.strategy} partitioning on {p.key} ({p.key_type})"
             + (f", {p.interval}ly, existing rows kept as the partition before {p.cutoff[:10]}" if p.cutoff else "")]
    lines += [f"  why: {w}" for w in p.why]
    if p.span:
        lines.append(f"  data: {p.span}")
    for u in p.queries[:3]:
        lines.append(f"  query ({u.calls:,} calls, {u.total_ms:,.0f} ms): {_short(u.query)}")
        lines.append(f"    filters: {'; '.join(u.conditions[:3])}")
    for plan in p.plans:
        lines.append(f"  plan today: {plan}")
    for b in p.blockers:
        lines.append(f"  BLOCKER: {b}")
    for n in p.notes:
        lines.append(f"  note: {n}")
    for m in p.migrations:
        lines.append(f"\n  {m.path}  -- {m.why}")
        lines += ["    " + line for line in m.content.splitlines()]
    if p.management:
        lines.append("\n  Partition upkeep:")
        lines += ["    " + line for line in p.management.splitlines()]
    return "\n".join(lines)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
