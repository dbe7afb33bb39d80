"""`caching_advice`: where a query's result changes rarely relative to how often it runs.

The numbers are the database's own: calls per hour from pg_stat_statements, and writes per hour
to every table the query reads from pg_stat_user_tables (inserts + updates + deletes), each over
the time since its statistics were reset. Reads per write is then an upper bound on how many
times a cached result could be served before a write invalidates it - an upper bound, because a
query with parameters caches one entry per value, and which values repeat is something no
database statistic says. The saving is therefore not measured here, only bounded; the sketch
shows where the cache and its invalidation go in an Ecto app.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from tools.base import Tool, ToolContext
from tools.db.connect import connect, describe_error, server_version
from tools.errors import InputError
from tools.partitioning.workload import read_statements, stats_reset, table_activity
from tools.rewrites.ecto import schema_module

MIN_READS_PER_WRITE = 20.0


@dataclass
class CachingOptions:
    min_calls: int = 1_000
    min_reads_per_write: float = MIN_READS_PER_WRITE
    app: str = "MyApp"


class TableWrites(BaseModel):
    table: str
    writes: int  # inserts + updates + deletes since the statistics were reset
    writes_per_hour: float


class CacheCandidate(BaseModel):
    query: str
    calls: int
    calls_per_hour: float
    total_ms: float
    mean_ms: float
    parameterised: bool
    tables: list[TableWrites]
    writes_per_hour: float
    reads_per_write: float | None  # None: no writes at all in the window
    verdict: str
    sketch: str
    caveats: list[str] = Field(default_factory=list)


class CachingReport(BaseModel):
    server_version: str | None = None
    window: str = ""
    candidates: list[CacheCandidate] = Field(default_factory=list)
    not_cacheable: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def text(self) -> str:
        lines = [f"Window: {self.window}"] if self.window else []
        for c in self.candidates:
            ratio = "no writes at all" if c.reads_per_write is None else f"{c.reads_per_write:,.0f} reads per write"
            lines.append(f"\n{_short(c.query)}")
            lines.append(f"  {c.calls:,} calls ({c.calls_per_hour:,.0f}/hour, {c.mean_ms:.2f} ms each, "
                         f"{c.total_ms:,.0f} ms in total); its tables take {c.writes_per_hour:,.1f} writes/hour "
                         f"({', '.join(f'{t.table}: {t.writes:,}' for t in c.tables)}): {ratio}")
            lines.append(f"  {c.verdict}")
            lines += [f"  caveat: {x}" for x in c.caveats]
            lines.append("  Sketch (not measured):")
            lines += ["    " + x for x in c.sketch.splitlines()]
        if not self.candidates:
            lines.append("No query runs often enough, relative to the writes to its tables, to be worth caching.")
        if self.not_cacheable:
            lines.append("\nRun often but their tables change too often to cache:")
            lines += [f"  {x}" for x in self.not_cacheable[:5]]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines).strip()


def caching_advice(database_url: str | None, options: CachingOptions | None = None) -> CachingReport:
    options = options or CachingOptions()
    report = CachingReport()
    with connect(database_url) as conn:
        report.server_version = server_version(conn)
        conn.read_only = True
        try:
            conn.execute("SELECT set_config('statement_timeout', '15s', true)")
            statements = read_statements(conn)
            activity = table_activity(conn)
            pgss_reset, db_reset = stats_reset(conn)
            started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
            hours_calls = _hours(conn, pgss_reset or started)
            hours_writes = _hours(conn, db_reset or started)
        except psycopg.Error as exc:
            raise InputError(f"reading the statistics failed: {describe_error(exc, database_url)}") from None
        finally:
            conn.rollback()
    report.window = (f"calls over the last {_span(hours_calls)} (pg_stat_statements), writes over the last "
                     f"{_span(hours_writes)} (pg_stat_user_tables)")
    for s in statements:
        # No floor on time: a query cheap for the database still costs the app a round trip per call.
        if s.select is None or s.calls < options.min_calls:
            continue
        tables = [t for t in sorted(s.tables) if t in activity]
        if not tables:
            continue
        writes = [TableWrites(table=t, writes=activity[t].inserts + activity[t].updates + activity[t].deletes,
                              writes_per_hour=(activity[t].inserts + activity[t].updates + activity[t].deletes)
                              / hours_writes) for t in tables]
        per_hour = sum(w.writes_per_hour for w in writes)
        calls_per_hour = s.calls / hours_calls
        ratio = calls_per_hour / per_hour if per_hour > 0 else None
        if ratio is not None and ratio < options.min_reads_per_write:
            report.not_cacheable.append(f"{_short(s.query, 90)}: {ratio:,.1f} reads per write to its tables "
                                        "(a lookup of rows that rarely change could still cache per key)")
            continue
        parameterised = "$" in s.query
        cand = CacheCandidate(query=s.query, calls=s.calls, calls_per_hour=calls_per_hour, total_ms=s.total_ms,
                              mean_ms=s.mean_ms, parameterised=parameterised, tables=writes,
                              writes_per_hour=per_hour, reads_per_write=ratio, verdict="", sketch="")
        cand.verdict = _verdict(cand)
        cand.caveats = _caveats(cand, hours_calls, hours_writes)
        cand.sketch = _sketch(cand, options.app)
        report.candidates.append(cand)
    report.candidates.sort(key=lambda c: -c.total_ms)
    if hours_calls < 1 or hours_writes < 1:
        report.notes.append("the statistics cover less than an hour: rates are rough")
    return report


def _span(hours: float) -> str:
    return f"{hours * 60:,.0f} min" if hours < 1 else f"{hours:,.1f} h"


def _hours(conn, since) -> float:
    value = conn.execute("SELECT extract(epoch FROM now() - %s) / 3600", (since,)).fetchone()[0]
    return max(float(value), 1 / 60)


def _verdict(c: CacheCandidate) -> str:
    if c.reads_per_write is None:
        text = "its tables were not written at all in the window: the result only changes on deploys or manual edits"
    else:
        text = (f"each write could be followed by up to {c.reads_per_write:,.0f} reads of a cached result (an upper "
                "bound: it assumes every call asks for the same result)")
    saved = c.total_ms * (1 - 1 / c.reads_per_write) if c.reads_per_write else c.total_ms
    return text + f"; at best about {saved:,.0f} ms of the {c.total_ms:,.0f} ms it cost would not reach the database"


def _caveats(c: CacheCandidate, hours_calls: float, hours_writes: float) -> list[str]:
    out = []
    if c.parameterised:
        out.append("it takes parameters: each value is its own cache entry, and how often values repeat is not "
                   "something the database records; measure the hit rate in the app (Cachex stats, telemetry)")
    if c.mean_ms < 1:
        out.append(f"each call takes {c.mean_ms:.2f} ms in the database; a network round trip and decoding probably "
                   "cost more than that, which a cache also saves, but which is not measured here")
    if abs(hours_calls - hours_writes) > max(hours_calls, hours_writes) * 0.5:
        out.append("the two statistics were reset at different times; the rates are per hour of each window")
    out.append("writes made outside the app (psql, other services, migrations) do not run its invalidation: keep a "
               "TTL as a safety net")
    return out


def _sketch(c: CacheCandidate, app: str) -> str:
    table = c.tables[0].table
    schema = schema_module(table)
    name = re.sub(r"[^a-z0-9_]", "_", table)
    key = f"{{:{name}, params}}" if c.parameterised else f":{name}"
    call = f"list_{name}(params)" if c.parameterised else f"list_{name}()"
    writers = ", ".join(t.table for t in c.tables)
    return f"""# In application.ex, a cache with a default TTL as the safety net for writes that bypass the app:
#   {{Cachex, name: :{name}_cache, expiration: Cachex.Spec.expiration(default: :timer.minutes(10))}}
# (or an ETS table owned by a GenServer; or Nebulex with a distributed adapter when nodes must share entries)
defmodule {app}.{schema}Cache do
  @cache :{name}_cache

  def fetch(key, fun) do
    {{_, value}} = Cachex.fetch(@cache, key, fn _key -> {{:commit, fun.()}} end)
    value
  end

  # After every successful write to {writers}:
  def invalidate do
    Cachex.clear(@cache)
    # Several nodes: each subscribes to this topic and clears its own cache.
    Phoenix.PubSub.broadcast({app}.PubSub, "cache:{name}", :invalidate)
  end
end

# The context function that runs the query today:
#   def {call}, do: {schema}Cache.fetch({key}, fn -> Repo.all(query) end)
# and every function that writes to {writers}:
#   with {{:ok, record}} <- Repo.insert(changeset) do
#     {schema}Cache.invalidate()
#     {{:ok, record}}
#   end"""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CachingAdvice(Tool):
    name = "caching_advice"
    input_schema = {
        "type": "object",
        "properties": {
            "min_calls": {"type": "integer", "description": "Ignore statements run fewer times. Default 1,000."},
            "app_module": {"type": "string", "description": "The app's module (e.g. MyApp) for the sketch."},
            "format": {"type": "string", "enum": ["text", "json"]},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        report = caching_advice(ctx.database_url, CachingOptions(min_calls=int(params.get("min_calls", 1_000)),
                                                                 app=params.get("app_module") or "MyApp"))
        if params.get("format") == "json":
            return json.dumps(report.model_dump(), indent=1, default=str)
        return report.text()
