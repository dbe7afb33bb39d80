"""`suggest_rewrites`: find the rewrite opportunities in one query and prove each candidate.

One read-only transaction, rolled back at the end, holds everything: the catalog reads, the
original's EXPLAIN ANALYZE, and every candidate run against it on the same params.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from tools.base import Tool, ToolContext
from tools.db.connect import connect, describe_error, server_version
from tools.errors import InputError
from tools.explain.classify import Kind, Statement, classify
from tools.explain.params import parse_params, split_logged_query
from tools.explain.plan import Plan, parse_plan
from tools.explain.runner import _generic_plan
from tools.rewrites import OPPORTUNITIES, find_all
from tools.rewrites.base import (
    Detected, Finding, Measurement, QueryContext, Run, Variant, display_params, fmt_ms, plan_summary,
)
from tools.rewrites.catalog import Table, load_tables
from tools.rewrites.sql import parse_select, relnames


@dataclass
class RewriteOptions:
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000
    used_columns: list[str] | None = None  # what the caller reads, for unused wide columns
    group_values: list[Any] | None = None  # the groups an N+1 loops over, for latest-per-group
    verify: bool = True


class RewriteReport(BaseModel):
    query: str
    params: list[Any] | None = None
    server_version: str | None = None
    original: Measurement | None = None
    findings: list[Finding] = Field(default_factory=list)
    checked: list[str] = Field(default_factory=list)  # the opportunities looked for
    notes: list[str] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump()
        for finding, raw in zip(self.findings, data["findings"]):
            raw["status"] = finding.status
            best = finding.best
            raw["best"] = finding.candidates.index(best) if best is not None else None
        return data

    def text(self) -> str:
        lines = [f"Query: {_short(self.query, 300)}"]
        if self.params:
            lines.append(f"Params: {json.dumps(self.params, default=str)[:200]}")
        if self.original:
            lines.append(f"Original: {fmt_ms(self.original.explain_ms)} execution"
                         + (f", {self.original.rows:,} rows" if self.original.rows is not None else "")
                         + (f" ({self.original.plan_summary})" if self.original.plan_summary else ""))
        if not self.findings:
            lines.append(f"\nNo rewrite opportunity found (looked for: {', '.join(self.checked)}).")
        for i, f in enumerate(self.findings, 1):
            best = f.best
            head = f"[{f.status}" + (f": {best.speedup:.1f}x faster]" if best and best.speedup else "]")
            lines.append(f"\n{i}. {f.title} {head}  ({f.id})")
            lines.append(f"   Evidence: {f.evidence}")
            for note in f.notes:
                lines.append(f"   Note: {note}")
            for c in f.candidates:
                mark = {"proposed": "PROPOSED", "rejected": "rejected", "behaviour-change": "BEHAVIOUR CHANGE",
                        "unverified": "unverified"}[c.status]
                lines.append(f"   - {c.label}: {mark}. {c.reason}")
                if c.before and c.after:
                    lines.append(f"     measured: {_measure(c.before)} -> {_measure(c.after)}")
                if c.status in ("proposed", "behaviour-change", "unverified"):
                    lines.append(f"     semantics: {c.semantics}")
                    for note in c.notes:
                        lines.append(f"     note: {note}")
                    lines.append("     SQL:")
                    lines.extend("       " + line for line in c.sql.splitlines())
                    if c.params and c.params != self.params:
                        lines.append(f"     params: {json.dumps(c.params, default=str)[:300]}")
                    lines.append("     Ecto:")
                    lines.extend("       " + line for line in c.ecto.splitlines())
        for note in self.notes:
            lines.append(f"\nNote: {note}")
        return "\n".join(lines)


def _measure(m: Measurement) -> str:
    parts = [f"{fmt_ms(m.explain_ms)} execution"]
    if m.runs > 1:
        parts[0] += f" over {m.runs} statements (+{fmt_ms(m.planning_ms)} planning)"
    if m.fetch_ms is not None:
        parts.append(f"{fmt_ms(m.fetch_ms)} to fetch")
    if m.rows is not None:
        parts.append(f"{m.rows:,} rows")
    if m.bytes is not None:
        parts.append(f"{m.bytes / 1024:,.0f} kB")
    return ", ".join(parts)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def suggest_rewrites(sql: str, params: str | list | None, database_url: str | None,
                     options: RewriteOptions | None = None) -> RewriteReport:
    options = options or RewriteOptions()
    if params is None and isinstance(sql, str):
        sql, params = split_logged_query(sql)
    values = parse_params(params)
    stmt = classify(sql)
    if stmt.kind is Kind.WRITE or stmt.verb != "SELECT":
        raise InputError(f"rewrites are suggested for SELECT queries, not {stmt.verb}"
                         + (" (row locks make it a write)" if stmt.verb == "SELECT" else ""))
    select = parse_select(stmt.sql)
    if values is not None and len(values) < stmt.param_count:
        raise InputError(f"the query uses ${stmt.param_count} but {len(values)} params were given")
    if values is not None and stmt.param_count == 0:
        values = []
    generic = stmt.param_count > 0 and values is None
    report = RewriteReport(query=stmt.sql, params=display_params(values) if values is not None else None,
                           checked=[o.id for o in OPPORTUNITIES])
    group_values = parse_params(options.group_values) if options.group_values is not None else None

    with connect(database_url) as conn:
        report.server_version = server_version(conn)
        conn.read_only = True
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true), "
                         "set_config('cursor_tuple_fraction', '1', true)",
                         (f"{options.statement_timeout_ms}ms", f"{options.lock_timeout_ms}ms"))
            tables = load_tables(conn, relnames(select))
            # The tables their foreign keys point at: a LATERAL join starts from the group's own table.
            targets = {fk.ref_table for t in tables.values() for fk in t.foreign_keys} - set(tables)
            tables.update(load_tables(conn, targets))
            plan = _plan(conn, stmt, values, generic)
            q = QueryContext(sql=stmt.sql, stmt=select, params=values, plan=plan, tables=tables,
                             used_columns=set(options.used_columns) if options.used_columns is not None else None,
                             group_values=group_values, fetch=_fetcher(conn))
            detected = find_all(q)
            if generic:
                report.notes.append("no params given: the opportunities come from the generic plan and the "
                                    "rewrites were not run; pass the params to verify them")
            elif not options.verify:
                report.notes.append("verification was turned off: nothing below was run")
            else:
                _verify(conn, detected, Variant([Run(stmt.sql, values)]), options, database_url, report)
        except psycopg.errors.QueryCanceled:
            raise InputError(f"the query ran longer than the {options.statement_timeout_ms} ms statement timeout "
                             "and was cancelled; raise --statement-timeout to measure it") from None
        except psycopg.errors.LockNotAvailable:
            raise InputError(f"a lock the query needs was not granted within {options.lock_timeout_ms} ms; "
                             "nothing was changed") from None
        except psycopg.Error as exc:
            raise InputError(f"the database refused the query: {describe_error(exc, database_url)}") from None
        finally:
            conn.rollback()
    if report.original is None and plan is not None and plan.analyzed:
        report.original = Measurement(explain_ms=plan.execution_time_ms, planning_ms=plan.planning_time_ms,
                                      rows=int(plan.root.actual_rows_total or 0), plan_summary=plan_summary(plan))
    for d in detected:
        if not d.finding.candidates:
            for proposal in d.proposals:
                proposal.candidate.reason = proposal.candidate.reason or (
                    "not run: no params to run it with" if generic else "not run: verification is off")
                d.finding.candidates.append(proposal.candidate)
    report.findings = _rank([d.finding for d in detected])
    return report


def _plan(conn: psycopg.Connection, stmt: Statement, values: list | None, generic: bool) -> Plan:
    if generic:
        raw = _generic_plan(conn, stmt)[0]
    else:
        with psycopg.RawCursor(conn) as cur:
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) {stmt.sql}", values or None)
            raw = cur.fetchone()[0]
    return parse_plan(raw if isinstance(raw, str) else json.dumps(raw))


def _fetcher(conn: psycopg.Connection):
    """A read in its own savepoint, so a failure cannot abort the verification transaction."""
    def fetch(sql: str, values: list | None) -> list[tuple]:
        conn.execute("SAVEPOINT rewrite_fetch")
        try:
            with psycopg.RawCursor(conn) as cur:
                cur.execute(sql, values or None)
                rows = cur.fetchall()
            conn.execute("RELEASE SAVEPOINT rewrite_fetch")
            return rows
        except psycopg.Error:
            conn.execute("ROLLBACK TO SAVEPOINT rewrite_fetch")
            return []
    return fetch


def _verify(conn: psycopg.Connection, detected: list[Detected], original: Variant, options: RewriteOptions,
            url: str | None, report: RewriteReport) -> None:
    from tools.rewrites.verify import Verifier

    verifier = Verifier(conn, statement_timeout_ms=options.statement_timeout_ms, database_url=url)
    for d in detected:
        for proposal in d.proposals:
            probes = verifier.judge(proposal, original)
            for name, value in probes.items():
                if value is not None:
                    sentence = proposal.probes[name][1].format(value=value)
                    if sentence not in d.finding.evidence:
                        d.finding.evidence = d.finding.evidence.rstrip(".") + f"; {sentence}."
            d.finding.candidates.append(proposal.candidate)
            if proposal.reference is None and proposal.candidate.before is not None and report.original is None:
                report.original = proposal.candidate.before


def _rank(findings: list[Finding]) -> list[Finding]:
    order = {"proposed": 0, "unverified": 1, "rejected": 2}
    return sorted(findings, key=lambda f: (order.get(f.status, 3), -((f.best.speedup or 0) if f.best else 0)))


def offline_find(sql: str, tables: dict[str, Table], plan: Plan | None = None, params: list | None = None,
                 **context: Any) -> list[Detected]:
    """Opportunities from catalog facts given by hand, no database: the examples' test path."""
    select = parse_select(classify(sql).sql)
    q = QueryContext(sql=sql, stmt=select, params=params, plan=plan, tables=tables, **context)
    return find_all(q, strict=True)


class SuggestRewrites(Tool):
    name = "suggest_rewrites"
    input_schema = {
        "type": "object",
        "properties": {
            "sql": {"type": "string", "description": "One SELECT, with $1..$n placeholders as Ecto logs it."},
            "params": {"description": "The params: a JSON array or Ecto's logged list. Needed to verify rewrites.",
                       "anyOf": [{"type": "array"}, {"type": "string"}]},
            "used_columns": {"type": "array", "items": {"type": "string"},
                             "description": "Columns the calling code actually reads (for unused wide columns)."},
            "group_values": {"type": "array",
                             "description": "For a query run once per group (an N+1): the group ids the loop "
                                            "covers. Default: a sample from the table."},
            "format": {"type": "string", "enum": ["text", "json"]},
        },
        "required": ["sql"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        sql = params.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise InputError("suggest_rewrites needs `sql`: one SELECT statement")
        options = RewriteOptions(used_columns=params.get("used_columns"), group_values=params.get("group_values"))
        report = suggest_rewrites(sql, params.get("params"), ctx.database_url, options)
        if params.get("format") == "json":
            return json.dumps(report.as_json(), indent=1, default=str)
        return report.text()
