"""`partitioning_advice`: tables worth partitioning and how, or why a query on a partitioned table
reads partitions it could skip. Everything is read in one READ ONLY transaction, rolled back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from tools.base import Tool, ToolContext
from tools.db.connect import connect, describe_error, server_version
from tools.errors import InputError
from tools.explain.classify import classify
from tools.explain.params import parse_params, split_logged_query
from tools.partitioning.advisor import Proposal, Skipped, consider, render_proposal
from tools.partitioning.pruning import PruningInsight, check_pruning, partitioned_tables
from tools.partitioning.workload import read_statements, table_activity
from tools.rewrites.catalog import load_tables


@dataclass
class PartitioningOptions:
    table: str | None = None
    min_rows: int = 1_000_000
    sql: str | None = None
    params: str | list | None = None
    app: str = "MyApp"
    statement_timeout_ms: int = 30_000


class PartitioningReport(BaseModel):
    server_version: str | None = None
    proposals: list[Proposal] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    pruning: list[PruningInsight] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def text(self) -> str:
        lines = []
        for p in self.proposals:
            lines.append(render_proposal(p))
            lines.append("")
        for insight in self.pruning:
            lines.append(f"{insight.table} ({insight.partition_key}, {insight.partitions} partitions): "
                         f"{insight.verdict}. {insight.why}." + (f" Fix: {insight.fix}." if insight.fix else ""))
        if self.skipped:
            lines.append("Not proposed:")
            lines += [f"  {s.table}: {s.reason}" for s in self.skipped]
        if not self.proposals and not self.pruning:
            lines.insert(0, "No table to partition.")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines).strip()


def partitioning_advice(database_url: str | None, options: PartitioningOptions | None = None) -> PartitioningReport:
    options = options or PartitioningOptions()
    report = PartitioningReport()
    with connect(database_url) as conn:
        report.server_version = server_version(conn)
        conn.read_only = True
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', '1s', true)",
                         (f"{options.statement_timeout_ms}ms",))
            if options.sql:
                _pruning_for(conn, options, report)
            else:
                _advise(conn, options, report)
        except psycopg.errors.QueryCanceled:
            raise InputError(f"a query ran longer than the {options.statement_timeout_ms} ms statement "
                             "timeout") from None
        except psycopg.Error as exc:
            raise InputError(f"reading the database failed: {describe_error(exc, database_url)}") from None
        finally:
            conn.rollback()
    return report


def _pruning_for(conn: Any, options: PartitioningOptions, report: PartitioningReport) -> None:
    sql, params = options.sql, options.params
    if params is None:
        sql, params = split_logged_query(sql)
    values = parse_params(params)
    stmt = classify(sql)
    if stmt.verb != "SELECT" or stmt.kind.value != "read":
        raise InputError("the pruning check explains SELECT queries only")
    report.pruning = check_pruning(conn, stmt.sql, values, stmt.param_count)
    if not report.pruning:
        report.notes.append("the query reads no partitioned table")


def _advise(conn: Any, options: PartitioningOptions, report: PartitioningReport) -> None:
    statements = read_statements(conn)
    activity = table_activity(conn)
    now = conn.execute("SELECT localtimestamp").fetchone()[0]
    names = [options.table] if options.table else sorted(activity, key=lambda n: -activity[n].live_rows)
    if options.table and options.table not in activity:
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{options.table}"',)).fetchone()[0]
        if exists is None:
            raise InputError(f"no table named {options.table!r}")
    for name in names:
        if name not in activity:
            continue
        tables = load_tables(conn, [name])
        table = tables.get(name)
        if table is None:
            continue
        referencing = [f"{r[0]}.{r[1]}" for r in conn.execute("""
            SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c
            WHERE c.contype = 'f' AND c.confrelid = to_regclass(%s)""", (f'"{name}"',)).fetchall()]
        indexes = [(r[0], r[1], r[2], r[3]) for r in conn.execute("""
            SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisunique, x.indisprimary
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = to_regclass(%s) ORDER BY i.relname""", (f'"{name}"',)).fetchall()]
        result = consider(table, activity[name], statements, min_rows=options.min_rows, now=now,
                          referencing=referencing, bounds=_bounds(conn, name, table), indexes=indexes,
                          app=options.app)
        if isinstance(result, Skipped):
            if options.table or activity[name].live_rows >= options.min_rows:
                report.skipped.append(result)
            continue
        result.plans = _plans_today(conn, result)
        report.proposals.append(result)
    # Tables already partitioned: do the workload's queries skip partitions?
    parted = partitioned_tables(conn, {t for s in statements for t in s.tables})
    for s in statements:
        if s.select is None or not (s.tables & set(parted)):
            continue
        try:
            report.pruning += [p for p in check_pruning(conn, s.query, None, s.query.count("$"))
                               if p.verdict == "not pruned"]
        except InputError:
            continue
    if not report.proposals and not report.skipped:
        report.notes.append(f"no table has {options.min_rows:,} rows or more (--min-rows)")


def _bounds(conn: Any, name: str, table) -> tuple[Any, Any] | None:
    """The time span of the best time column: from pg_stats' histogram, never a scan."""
    from tools.partitioning.advisor import is_time_type

    for col in table.columns.values():
        if not is_time_type(col.type):
            continue
        type_ = col.base_type if col.type == "date" else col.type
        bounds = f"histogram_bounds::text::{type_}[]"
        row = conn.execute(f"""SELECT ({bounds})[1], ({bounds})[array_length({bounds}, 1)]
                               FROM pg_stats WHERE schemaname = %s AND tablename = %s AND attname = %s""",
                           (table.schema, name, col.name)).fetchone()
        if row and row[0] is not None and abs(col.correlation or 0) >= 0.9:
            return row[0], row[1]
    return None


def _plans_today(conn: Any, proposal: Proposal) -> list[str]:
    """How the heaviest queries read the table now (generic plans: estimates, nothing run)."""
    from tools.explain.runner import _generic_plan
    from tools.explain.plan import parse_plan

    out = []
    for use in proposal.queries[:2]:
        conn.execute("SAVEPOINT partition_plan")
        try:
            stmt = classify(use.query)
            if stmt.param_count:
                raw = _generic_plan(conn, stmt)[0]
            else:
                with psycopg.RawCursor(conn) as cur:
                    cur.execute(f"EXPLAIN (FORMAT JSON) {stmt.sql}")
                    raw = cur.fetchone()[0]
            conn.execute("RELEASE SAVEPOINT partition_plan")
        except (psycopg.Error, InputError):
            conn.execute("ROLLBACK TO SAVEPOINT partition_plan")
            continue
        plan = parse_plan(raw if isinstance(raw, str) else json.dumps(raw))
        scans = [n for n in plan.nodes if n.relation == proposal.table]
        for n in scans:
            out.append(f"{n.node_type} on {proposal.table} (estimated {n.plan_rows_total:,.0f} rows"
                       + (f", filter {n.get('Filter')}" if n.get("Filter") else "") + ")")
    return out


class PartitioningAdvice(Tool):
    name = "partitioning_advice"
    input_schema = {
        "type": "object",
        "properties": {
            "table": {"type": "string", "description": "Only this table (default: every large table)."},
            "min_rows": {"type": "integer", "description": "Smallest table worth partitioning. Default 1,000,000."},
            "sql": {"type": "string", "description": "Instead: check one query on a partitioned table for "
                                                     "partitions it reads but could have skipped."},
            "params": {"description": "The sql's params (JSON array or Ecto's logged list).",
                       "anyOf": [{"type": "array"}, {"type": "string"}]},
            "app_module": {"type": "string", "description": "The app's module (e.g. MyApp) for the migrations."},
            "format": {"type": "string", "enum": ["text", "json"]},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        options = PartitioningOptions(table=params.get("table"), min_rows=int(params.get("min_rows", 1_000_000)),
                                      sql=params.get("sql"), params=params.get("params"),
                                      app=params.get("app_module") or "MyApp")
        report = partitioning_advice(ctx.database_url, options)
        if params.get("format") == "json":
            return json.dumps(report.model_dump(), indent=1, default=str)
        return report.text()
