"""The structured final report: what was found, what was changed, how it was measured.

The model describes findings, measurements and follow-ups with `submit_report`; the changes
come from the file tools themselves (ToolContext.changes), so the report cannot claim an edit
that did not happen or miss one that did. `run --json` carries it as `report`; its JSON schema
is published by `ecto-optimizer report-schema` and kept in schemas/report.schema.json.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from tools.base import Tool, ToolContext, ToolError

SCHEMA_VERSION = 1


class Finding(BaseModel):
    title: str = Field(description="One line: what is wrong, specifically.")
    severity: Literal["high", "medium", "low"] = Field(description="high: the main cause of the slowness or risk.")
    evidence: str = Field(description="The numbers that show it: plan nodes, rows, times, log counts.")
    location: str | None = Field(default=None, description="file:line, a table, or the query it concerns.")


class Measurement(BaseModel):
    query: str = Field(description="The SQL measured (with $n placeholders).")
    before_cost: float | None = Field(default=None, description="Planner cost before the change.")
    after_cost: float | None = Field(default=None, description="Planner cost after (real or hypothetical).")
    before_ms: float | None = Field(default=None, description="Measured execution time before, in ms.")
    after_ms: float | None = Field(default=None, description="Measured execution time after, in ms.")
    method: str = Field(description="How it was measured: EXPLAIN ANALYZE, hypothetical index, not measured, ...")


class Change(BaseModel):
    file: str
    kind: Literal["migration", "code", "config", "other"]
    created: bool
    diff: str


class Report(BaseModel):
    schema_version: int = SCHEMA_VERSION
    summary: str
    findings: list[Finding] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    verification: list[Measurement] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list, description="What to watch or do after deploying.")
    submitted_by_model: bool = False  # False: the model sent no report; only the changes are known


class _Submitted(BaseModel):
    summary: str = Field(description="Two or three sentences: the cause and the fix.")
    findings: list[Finding] = Field(default_factory=list)
    verification: list[Measurement] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list, description="What to watch or do after deploying.")


def _kind(path: str) -> str:
    if "priv/repo/migrations/" in path or "/migrations/" in path:
        return "migration"
    if path.startswith("config/"):
        return "config"
    if path.endswith((".ex", ".exs", ".heex", ".eex")):
        return "code"
    return "other"


def assemble(ctx: ToolContext, final_text: str) -> Report:
    """The report for a finished run: the model's submission (if any) plus the recorded changes."""
    changes = [Change(file=f, kind=_kind(f), created=c, diff=d) for f, d, c in ctx.changes]
    if ctx.report:
        return Report(**ctx.report, changes=changes, submitted_by_model=True)
    return Report(summary=final_text.strip()[:2000], changes=changes)


def schema() -> dict[str, Any]:
    return Report.model_json_schema()


class SubmitReport(Tool):
    name = "submit_report"
    input_schema = _Submitted.model_json_schema()

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        try:
            submitted = _Submitted.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            raise ToolError(f"the report does not fit its schema: {problems}") from None
        ctx.report = submitted.model_dump()
        return (f"Report recorded: {len(submitted.findings)} finding(s), {len(submitted.verification)} "
                f"measurement(s). The {len(ctx.changes)} file change(s) of this run are attached automatically. "
                "Now give your final answer in prose.")


def dump(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2)
