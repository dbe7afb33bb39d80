"""The `explain` capability as one function for the CLI and one Tool for the agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.base import Tool, ToolContext
from tools.errors import InputError
from tools.explain.findings import Insight
from tools.explain.insights import analyze
from tools.explain.params import parse_params, split_logged_query
from tools.explain.plan import Plan, parse_plan
from tools.explain.render import render_text, to_json
from tools.explain.runner import ExplainOptions, capture_plan


@dataclass
class ExplainReport:
    plan: Plan
    insights: list[Insight]
    query: str | None
    server_version: str | None
    analyzed: bool
    mode: str
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        return render_text(self.plan, self.insights, query=self.query, notes=self.notes)

    def as_json(self) -> dict[str, Any]:
        data = to_json(self.plan, self.insights, query=self.query, server_version=self.server_version,
                       analyzed=self.analyzed)
        data["mode"] = self.mode
        data["notes"] = list(self.notes)
        return data


def explain_query(sql: str, params: str | list | None, database_url: str | None,
                  options: ExplainOptions | None = None) -> ExplainReport:
    if params is None and isinstance(sql, str):
        sql, params = split_logged_query(sql)
    captured = capture_plan(sql, parse_params(params), database_url, options)
    plan = parse_plan(captured.plan_json)
    return ExplainReport(plan, analyze(plan), captured.statement.sql, captured.server_version,
                         captured.analyzed, captured.mode, captured.notes)


def explain_plan_file(path: str | Path) -> ExplainReport:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read plan file {path}: {exc.strerror if isinstance(exc, OSError) else exc}") from None
    plan = parse_plan(text)
    return ExplainReport(plan, analyze(plan), plan.query_text, None, plan.analyzed,
                         "analyze" if plan.analyzed else "plain")


class Explain(Tool):
    name = "explain"
    input_schema = {
        "type": "object",
        "properties": {
            "sql": {"type": "string", "description": "One SQL statement, with $1..$n placeholders as Ecto logs it."},
            "params": {
                "description": "The params: a JSON array, or Ecto's logged list as a string "
                               "(e.g. '[42, \"open\", ~U[2024-05-01 12:00:00Z]]'). Omit for a generic plan.",
                "anyOf": [{"type": "array"}, {"type": "string"}],
            },
            "analyze": {"type": "boolean", "description": "Run the query (EXPLAIN ANALYZE) to measure it. Default true."},
            "allow_writes": {"type": "boolean",
                             "description": "Run INSERT/UPDATE/DELETE/MERGE under ANALYZE (rolled back). "
                                            "Only honoured when the run allows database writes. Default false."},
            "format": {"type": "string", "enum": ["text", "json"],
                       "description": "text (default): the summary written for reading; json: the full result."},
        },
        "required": ["sql"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        sql = params.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise InputError("explain needs `sql`: one SQL statement")
        wants_writes = bool(params.get("allow_writes", False))
        options = ExplainOptions(analyze=bool(params.get("analyze", True)),
                                 allow_writes=wants_writes and ctx.allow_writes_to_database)
        report = explain_query(sql, params.get("params"), ctx.database_url, options)
        if wants_writes and not ctx.allow_writes_to_database:
            report.notes.append("allow_writes was asked for, but this run does not allow writes to the database")
        if params.get("format") == "json":
            import json

            return json.dumps(report.as_json(), indent=1, default=str)
        return report.text()
