"""`materialized_view_advice`: repeated expensive aggregations with few distinct results, turned
into a materialized view the app reads instead - with the proof and the price.

Read-only by default: candidates come from pg_stat_statements, the view's column types from
running its SELECT with LIMIT 0, the refresh cost from EXPLAIN ANALYZE of that SELECT, and the
proof of equal rows from running the app's new query with the view inlined as a subquery next to
the original, on the same params. With `measure`, the view is really built - inside a
transaction that is rolled back - to time the query over it and a REFRESH CONCURRENTLY.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from tools.base import Tool, ToolContext
from tools.db.connect import connect, describe_error, server_version
from tools.errors import InputError
from tools.explain.classify import Kind, classify
from tools.explain.params import parse_params, split_logged_query
from tools.explain.plan import parse_plan
from tools.matviews.design import Design, NotMaterializable, design
from tools.partitioning.workload import read_statements, stats_reset
from tools.rewrites.base import Candidate as RewriteCandidate
from tools.rewrites.base import Proposal as RewriteProposal
from tools.rewrites.base import Run, Variant, display_params, fmt_ms
from tools.rewrites.ecto import render, schema_module
from tools.rewrites.sql import clone, deparse, is_plain_aggregate, parse_select, walk

INTERVALS_MIN = (1, 5, 10, 15, 30, 60)
REFRESH_BUDGET = 0.25  # refreshing may cost at most this share of what the query costs today
MAX_ROWS_PER_CALL = 1000
_ECTO_TYPES = {"int2": ":integer", "int4": ":integer", "int8": ":integer", "numeric": ":decimal",
               "float4": ":float", "float8": ":float", "text": ":string", "varchar": ":string", "bpchar": ":string",
               "bool": ":boolean", "date": ":date", "timestamp": ":naive_datetime",
               "timestamptz": ":utc_datetime", "uuid": ":binary_id", "jsonb": ":map", "json": ":map"}


@dataclass
class MatviewOptions:
    sql: str | None = None
    params: str | list | None = None
    min_total_ms: float = 1_000.0
    min_calls: int = 10
    measure: bool = False
    app: str = "MyApp"
    statement_timeout_ms: int = 60_000


class Verification(BaseModel):
    same_rows: bool | None = None
    difference: str | None = None
    before_ms: float | None = None  # the original, EXPLAIN ANALYZE (or pg_stat_statements' mean)
    after_ms: float | None = None  # the app's query over the built view (measure only)
    refresh_ms: float | None = None  # the view's SELECT: what each refresh costs at least
    concurrent_refresh_ms: float | None = None  # REFRESH ... CONCURRENTLY, timed (measure only)
    speedup: float | None = None
    how: list[str] = Field(default_factory=list)


class MatviewProposal(BaseModel):
    query: str
    calls: int | None = None
    total_ms: float | None = None
    mean_ms: float | None = None
    rows_per_call: float | None = None
    calls_per_hour: float | None = None
    view: str
    view_sql: str
    keys: list[str]
    app_sql: str
    migration: str
    migration_path: str
    ecto_schema: str
    app_query: str
    refresh: str
    interval_minutes: int
    staleness: str
    verification: Verification
    lifted: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Skipped(BaseModel):
    query: str
    reason: str


class MatviewReport(BaseModel):
    server_version: str | None = None
    proposals: list[MatviewProposal] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def text(self) -> str:
        lines = []
        for p in self.proposals:
            v = p.verification
            lines.append(f"Materialized view {p.view} for: {_short(p.query)}")
            if p.calls is not None:
                lines.append(f"  today: {p.calls:,} calls, {p.total_ms:,.0f} ms in total, {fmt_ms(p.mean_ms)} each, "
                             f"{p.rows_per_call:,.1f} rows per call"
                             + (f", about {p.calls_per_hour:,.0f} calls an hour" if p.calls_per_hour else ""))
            same = {True: "yes", False: f"NO: {v.difference or ''}", None: "not checked"}[v.same_rows]
            after = f", after {fmt_ms(v.after_ms)} ({v.speedup:,.0f}x)" if v.after_ms is not None and v.speedup else ""
            lines.append(f"  same rows: {same}"
                         + (f"; before {fmt_ms(v.before_ms)}" if v.before_ms is not None else "")
                         + after
                         + (f"; a refresh costs at least {fmt_ms(v.refresh_ms)}" if v.refresh_ms is not None else "")
                         + (f" (CONCURRENTLY: {fmt_ms(v.concurrent_refresh_ms)})" if v.concurrent_refresh_ms else ""))
            lines += [f"  how: {h}" for h in v.how]
            lines.append(f"  refresh every {p.interval_minutes} min: {p.staleness}")
            if p.lifted:
                lines.append(f"  lifted out of the view: {'; '.join(p.lifted)}")
            lines += [f"  note: {n}" for n in p.notes]
            lines.append(f"\n  {p.migration_path}")
            lines += ["    " + x for x in p.migration.splitlines()]
            lines.append("\n  Schema:")
            lines += ["    " + x for x in p.ecto_schema.splitlines()]
            lines.append("\n  The app's query:")
            lines += ["    " + x for x in p.app_query.splitlines()]
            lines.append("\n  Refresh:")
            lines += ["    " + x for x in p.refresh.splitlines()]
            lines.append("")
        if self.skipped:
            lines.append("Not materialized:")
            lines += [f"  {_short(s.query, 100)}: {s.reason}" for s in self.skipped]
        if not self.proposals and not self.skipped:
            lines.append("No repeated expensive aggregation found.")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines).strip()


def materialized_view_advice(database_url: str | None, options: MatviewOptions | None = None) -> MatviewReport:
    options = options or MatviewOptions()
    report = MatviewReport()
    with connect(database_url) as conn:
        report.server_version = server_version(conn)
        conn.read_only = True
        try:
            _timeouts(conn, options)
            candidates = _candidates(conn, options, report)
            built = []
            for cand in candidates:
                proposal = _propose(conn, cand, options, report, database_url)
                if proposal is not None:
                    report.proposals.append(proposal)
                    built.append((proposal, cand.values))
        except psycopg.errors.QueryCanceled:
            raise InputError(f"a query ran longer than the {options.statement_timeout_ms} ms statement "
                             "timeout") from None
        except psycopg.Error as exc:
            raise InputError(f"the database refused a query: {describe_error(exc, database_url)}") from None
        finally:
            conn.rollback()
    if options.measure:
        for proposal, values in built:
            _measure(database_url, proposal, options, values)
    return report


def _timeouts(conn, options: MatviewOptions) -> None:
    conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', '1s', true)",
                 (f"{options.statement_timeout_ms}ms",))


@dataclass
class _Cand:
    sql: str
    values: list | None
    calls: int | None = None
    total_ms: float | None = None
    rows: int | None = None


def _candidates(conn, options: MatviewOptions, report: MatviewReport) -> list[_Cand]:
    if options.sql:
        sql, params = options.sql, options.params
        if params is None:
            sql, params = split_logged_query(sql)
        stmt = classify(sql)
        if stmt.kind is not Kind.READ or stmt.verb != "SELECT":
            raise InputError("a materialized view is built from a SELECT")
        values = parse_params(params)
        if stmt.param_count and values is None:
            report.notes.append("no params given: the view is designed, but its rows were not compared with the "
                                "original's")
        cand = _Cand(stmt.sql, values if values is not None or stmt.param_count else [])
        # Its history, when pg_stat_statements has it: the same query up to constants.
        try:
            from pglast import fingerprint

            mine = fingerprint(stmt.sql)
            for s in read_statements(conn):
                if _fingerprint(s.query) == mine:
                    cand.calls, cand.total_ms, cand.rows = s.calls, s.total_ms, s.rows
                    break
        except InputError:
            pass
        return [cand]
    out = []
    total_all = 0.0
    for s in read_statements(conn):
        total_all += s.total_ms
        if s.select is None or s.calls < options.min_calls or s.total_ms < options.min_total_ms:
            continue
        aggregates = s.select.groupClause or any(is_plain_aggregate(n) for t in s.select.targetList or ()
                                                 for n in walk(t.val))
        if not aggregates:
            continue
        if s.rows / max(s.calls, 1) > MAX_ROWS_PER_CALL:
            report.skipped.append(Skipped(query=s.query, reason=f"{s.rows / s.calls:,.0f} rows per call: too many "
                                                                "distinct results to precompute"))
            continue
        out.append(_Cand(s.query, [] if "$" not in s.query else None, s.calls, s.total_ms, s.rows))
    if not out and not report.skipped:
        report.notes.append(f"no aggregation costs {options.min_total_ms:,.0f} ms or more in total over at least "
                            f"{options.min_calls} calls in pg_stat_statements")
    return out[:3]


def _fingerprint(sql: str) -> str | None:
    from pglast import fingerprint
    from pglast.parser import ParseError

    try:
        return fingerprint(sql)
    except ParseError:
        return None


def _propose(conn, cand: _Cand, options: MatviewOptions, report: MatviewReport, url) -> MatviewProposal | None:
    try:
        select = parse_select(cand.sql)
        d = design(select)
    except (NotMaterializable, InputError) as exc:
        reason = str(exc)
        if cand.values is None and cand.calls:
            reason += (f" - as pg_stat_statements shows it ({cand.calls:,} calls, {cand.total_ms:,.0f} ms in total), "
                       "with every constant replaced by a $n: pass the query as the app sends it (from the log) "
                       "to design its view")
        report.skipped.append(Skipped(query=cand.sql, reason=reason))
        return None
    types = _column_types(conn, d)
    verification = Verification()
    refresh = _explain_ms(conn, d.view_sql, None)
    verification.refresh_ms = refresh
    verification.how.append("the view's SELECT ran under EXPLAIN ANALYZE in a read-only transaction: each refresh "
                            "costs at least that")
    verifiable = cand.values is not None
    if verifiable:
        _compare(conn, cand, d, verification, url, options)
    else:
        verification.how.append("rows not compared: pg_stat_statements keeps no param values; run this tool with the "
                                "query as logged (sql and params) to compare them")
    if verification.before_ms is None and cand.calls:
        verification.before_ms = round(cand.total_ms / cand.calls, 3)
        verification.how.append("before: the mean time per call from pg_stat_statements")
    calls_per_hour = _calls_per_hour(conn, cand)
    interval = _interval(verification.refresh_ms, verification.before_ms, calls_per_hour)
    staleness = (f"the dashboard shows data up to {interval} min old (plus the refresh's own "
                 f"{fmt_ms(verification.refresh_ms)}); a refresh every {interval} min costs "
                 f"{60 / interval * (verification.refresh_ms or 0) / 1000:,.1f} s of database time an hour")
    if calls_per_hour and verification.before_ms:
        staleness += f", against {calls_per_hour * verification.before_ms / 1000:,.1f} s an hour today"
    module = f"{options.app}.Reports.{schema_module(d.view)}"
    param_names = {}
    proposal = MatviewProposal(
        query=cand.sql, calls=cand.calls, total_ms=cand.total_ms,
        mean_ms=(cand.total_ms / cand.calls) if cand.calls else None,
        rows_per_call=(cand.rows / cand.calls) if cand.calls else None, calls_per_hour=calls_per_hour,
        view=d.view, view_sql=d.view_sql, keys=d.keys, app_sql=d.app_sql,
        migration=_migration(d, options.app), migration_path=f"priv/repo/migrations/<timestamp>_create_{d.view}.exs",
        ecto_schema=_schema(module, d, types), app_query=_app_ecto(d, module, param_names),
        refresh=_refresh(d.view, interval, options.app), interval_minutes=interval, staleness=staleness,
        verification=verification, lifted=d.lifted, notes=list(d.notes))
    if verification.same_rows is False:
        proposal.notes.insert(0, "the rows over the view differ from the original's on these params: see the "
                                 "difference before using it")
    return proposal


def _column_types(conn, d: Design) -> dict[str, str]:
    with psycopg.RawCursor(conn) as cur:
        cur.execute(f"SELECT * FROM ({d.view_sql}) AS v LIMIT 0")
        oids = [c.type_code for c in cur.description]
    names = dict(conn.execute("SELECT oid, typname FROM pg_type WHERE oid = ANY(%s)", (oids,)).fetchall())
    return {col: names.get(oid, "unknown") for col, oid in zip(d.columns, oids)}


def _explain_ms(conn, sql: str, values: list | None) -> float | None:
    with psycopg.RawCursor(conn) as cur:
        cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values or None)
        raw = cur.fetchone()[0]
    return parse_plan(raw if isinstance(raw, str) else json.dumps(raw)).execution_time_ms


def _compare(conn, cand: _Cand, d: Design, verification: Verification, url, options: MatviewOptions) -> None:
    """The app's query with the view inlined as a subquery, against the original, same params."""
    from tools.rewrites.verify import Verifier

    inlined = clone(d.app_select)
    inlined.fromClause = (parse_select(f"SELECT 1 FROM ({d.view_sql}) AS v").fromClause[0],)
    rc = RewriteCandidate(label="view", sql=deparse(inlined), compare="unordered")
    Verifier(conn, statement_timeout_ms=options.statement_timeout_ms, database_url=url).judge(
        RewriteProposal(rc, Variant([Run(rc.sql, cand.values)])), Variant([Run(cand.sql, cand.values)]))
    verification.same_rows = rc.same_rows
    verification.difference = rc.difference or (rc.reason if rc.same_rows is None else None)
    if rc.before is not None:
        verification.before_ms = rc.before.explain_ms
    verification.how.append("rows compared: the app's query over the view (inlined as a subquery) and the original, "
                            f"same params {json.dumps(display_params(cand.values), default=str)[:120]}")


def _calls_per_hour(conn, cand: _Cand) -> float | None:
    if not cand.calls:
        return None
    since, _ = stats_reset(conn)
    if since is None:
        since = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    hours = conn.execute("SELECT extract(epoch FROM now() - %s) / 3600", (since,)).fetchone()[0]
    return cand.calls / max(float(hours), 1 / 60)


def _interval(refresh_ms: float | None, query_ms: float | None, calls_per_hour: float | None) -> int:
    """The shortest interval whose refreshes cost at most a quarter of what the query costs now."""
    if not refresh_ms or not query_ms or not calls_per_hour:
        return 10
    today = calls_per_hour * query_ms
    for minutes in INTERVALS_MIN:
        if (60 / minutes) * refresh_ms <= REFRESH_BUDGET * today and refresh_ms < minutes * 60_000 / 20:
            return minutes
    return INTERVALS_MIN[-1]


def _migration(d: Design, app: str) -> str:
    from tools.partitioning.advisor import _ex

    keys = ", ".join(f":{k}" for k in d.keys)
    module = "".join(p.capitalize() for p in f"create_{d.view}".split("_"))
    sql = f"CREATE MATERIALIZED VIEW {d.view} AS\n{d.view_sql}"
    return "\n".join([
        f"defmodule {app}.Repo.Migrations.{module} do", "  use Ecto.Migration", "",
        "  def up do",
        "    # Builds the view now (one run of the aggregation); the unique index is what",
        "    # REFRESH MATERIALIZED VIEW CONCURRENTLY needs to keep readers unblocked.",
        f"    execute {_ex(sql)}",
        f"    create unique_index(:{d.view}, [{keys}])",
        "  end", "",
        "  def down do",
        f"    execute \"DROP MATERIALIZED VIEW {d.view}\"",
        "  end", "end"])


def _schema(module: str, d: Design, types: dict[str, str]) -> str:
    lines = [f"defmodule {module} do", "  use Ecto.Schema", "",
             f"  # Read-only: rows come from the materialized view {d.view}, refreshed on a schedule.",
             "  @primary_key false", f"  schema \"{d.view}\" do"]
    for col in d.columns:
        if col == "singleton":
            continue
        lines.append(f"    field :{col}, {_ECTO_TYPES.get(types.get(col, ''), ':any')}")
    lines += ["  end", "end"]
    return "\n".join(lines)


def _app_ecto(d: Design, module: str, param_names: dict) -> str:
    text = render(d.app_select, param_names=param_names)
    short = module.rsplit(".", 1)[-1]
    return text.replace(f'# Schemas assumed: {short} ("{d.view}"); use your app\'s aliases.',
                        f"alias {module}")


def _refresh(view: str, interval: int, app: str) -> str:
    worker = "Refresh" + schema_module(view)
    cron = f"*/{interval} * * * *" if interval < 60 else "0 * * * *"
    return f"""# With Oban, a cron job in config/config.exs:
#   plugins: [{{Oban.Plugins.Cron, crontab: [{{"{cron}", {app}.Workers.{worker}}}]}}]
defmodule {app}.Workers.{worker} do
  use Oban.Worker, queue: :default, max_attempts: 1, unique: [period: {interval * 60}]

  @impl Oban.Worker
  def perform(_job) do
    # CONCURRENTLY: readers keep the old rows until the new ones are ready.
    {app}.Repo.query!("REFRESH MATERIALIZED VIEW CONCURRENTLY {view}", [], timeout: :timer.minutes(10))
    :ok
  end
end

# Or with pg_cron, inside the database:
#   SELECT cron.schedule('refresh-{view}', '{cron}', $$REFRESH MATERIALIZED VIEW CONCURRENTLY {view}$$);"""


def _measure(url: str | None, p: MatviewProposal, options: MatviewOptions, values: list | None) -> None:
    """Build the view for real in a transaction that is rolled back: time the app's query over it
    and a concurrent refresh. DDL, so only on request; nothing survives the rollback."""
    v = p.verification
    with connect(url) as conn:
        try:
            _timeouts(conn, options)
            conn.execute(f"CREATE MATERIALIZED VIEW {p.view} AS {p.view_sql}")
            conn.execute(f"CREATE UNIQUE INDEX ON {p.view} ({', '.join(p.keys)})")
            conn.execute(f"ANALYZE {p.view}")
            if "$" in p.app_sql and values is None:
                v.how.append("after not measured: the app's query needs the params")
            else:
                v.after_ms = _explain_ms(conn, p.app_sql, values)
            started = time.perf_counter()
            conn.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {p.view}")
            v.concurrent_refresh_ms = (time.perf_counter() - started) * 1000
            v.how.append("measured: the view was built, queried and refreshed CONCURRENTLY inside a transaction "
                         "that was rolled back")
        except psycopg.Error as exc:
            v.how.append(f"measuring failed: {describe_error(exc, url)}")
        finally:
            conn.rollback()
    if v.after_ms and v.before_ms:
        v.speedup = v.before_ms / max(v.after_ms, 0.001)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MaterializedViewAdvice(Tool):
    name = "materialized_view_advice"
    input_schema = {
        "type": "object",
        "properties": {
            "sql": {"type": "string", "description": "An aggregation to judge (default: the costliest repeated "
                                                     "aggregations in pg_stat_statements)."},
            "params": {"description": "The sql's params, to compare the view's rows with the original's.",
                       "anyOf": [{"type": "array"}, {"type": "string"}]},
            "min_total_ms": {"type": "number", "description": "Ignore statements cheaper than this in total."},
            "measure": {"type": "boolean",
                        "description": "Build the view inside a rolled-back transaction to time it. Only honoured "
                                       "when this session allows database writes."},
            "app_module": {"type": "string", "description": "The app's module (e.g. MyApp)."},
            "format": {"type": "string", "enum": ["text", "json"]},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        options = MatviewOptions(sql=params.get("sql"), params=params.get("params"),
                                 min_total_ms=float(params.get("min_total_ms", 1_000.0)),
                                 measure=bool(params.get("measure")) and ctx.allow_writes_to_database,
                                 app=params.get("app_module") or "MyApp")
        report = materialized_view_advice(ctx.database_url, options)
        if params.get("measure") and not ctx.allow_writes_to_database:
            report.notes.append("measure was asked for, but this session does not allow database writes "
                                "(building the view is DDL, even rolled back)")
        if params.get("format") == "json":
            return json.dumps(report.model_dump(), indent=1, default=str)
        return report.text()
