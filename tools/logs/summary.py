"""What a log says about the database: queries grouped by SQL, ranked by total time, and N+1s.

Ecto always sends pinned values as $n parameters, so the SQL text itself groups the calls of
one query. An N+1 is Prosopite's rule with Sentry's thresholds: the same SQL from the same call
site repeated within one request, at least 5 times or 50 ms in total.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, Field

from tools.base import Tool, ToolContext, ToolError
from tools.logs.ecto import LoggedQuery, Request, read_file

N_PLUS_ONE_MIN_COUNT = 5
N_PLUS_ONE_MIN_MS = 50.0


class QueryGroup(BaseModel):
    sql: str
    calls: int
    total_ms: float
    mean_ms: float
    max_ms: float
    params: str | None  # those of the slowest call: the one worth explaining
    call_sites: list[str] = Field(default_factory=list)
    errors: int = 0


class Finding(BaseModel):
    kind: str  # "n_plus_one", "slow_query" or "query_error"
    call_site: str | None
    request: str | None
    count: int
    total_ms: float
    sql: str
    params: str | None
    fix: str


class LogSummary(BaseModel):
    files: list[str]
    requests: int
    queries: int
    groups: list[QueryGroup]
    findings: list[Finding]


def summarize(paths: Iterable[Path], *, slow_ms: float = 100.0) -> LogSummary:
    groups: dict[str, list[LoggedQuery]] = defaultdict(list)
    requests: list[Request] = []
    files = []
    for path in paths:
        files.append(str(path))
        for item in read_file(path):
            if isinstance(item, Request):
                requests.append(item)
            elif item.sql:
                groups[item.sql].append(item)
    ranked = []
    for sql, calls in groups.items():
        slowest = max(calls, key=lambda q: q.total_ms)
        total = sum(q.total_ms for q in calls)
        ranked.append(QueryGroup(sql=sql, calls=len(calls), total_ms=round(total, 1),
                                 mean_ms=round(total / len(calls), 2), max_ms=slowest.total_ms,
                                 params=slowest.params,
                                 call_sites=sorted({q.call_site for q in calls if q.call_site}),
                                 errors=sum(q.status == "ERROR" for q in calls)))
    ranked.sort(key=lambda g: g.total_ms, reverse=True)
    findings = _n_plus_ones(requests) + [
        Finding(kind="slow_query", call_site=(g.call_sites or [None])[0], request=None, count=g.calls,
                total_ms=g.total_ms, sql=g.sql, params=g.params,
                fix="explain this query with its params to find the cause")
        for g in ranked if g.max_ms >= slow_ms
    ] + [
        Finding(kind="query_error", call_site=(g.call_sites or [None])[0], request=None, count=g.errors,
                total_ms=0.0, sql=g.sql, params=g.params, fix="the database rejected this query; see the app's error")
        for g in ranked if g.errors
    ]
    return LogSummary(files=files, requests=len(requests), queries=sum(g.calls for g in ranked),
                      groups=ranked, findings=findings)


def _n_plus_ones(requests: list[Request]) -> list[Finding]:
    findings = []
    for request in requests:
        repeated: dict[tuple[str, str | None], list[LoggedQuery]] = defaultdict(list)
        for q in request.queries:
            repeated[(q.sql, q.call_site)].append(q)
        for (sql, site), calls in repeated.items():
            total = sum(q.total_ms for q in calls)
            if len(calls) >= 2 and (len(calls) >= N_PLUS_ONE_MIN_COUNT or total >= N_PLUS_ONE_MIN_MS):
                batched = "= ANY($1)" if "= $1" in sql else "one query for all of them"
                findings.append(Finding(
                    kind="n_plus_one", call_site=site, request=request.label, count=len(calls),
                    total_ms=round(total, 1), sql=sql, params=calls[0].params,
                    fix=(f"load them together: Repo.preload on the whole list, a join with preload, or one "
                         f"query with `where: x.id in ^ids` ({batched}) before the loop")))
    return findings


def render(summary: LogSummary, top: int = 10) -> str:
    lines = [f"{len(summary.files)} file(s), {summary.requests} request(s), {summary.queries} queries, "
             f"{len(summary.groups)} distinct"]
    for f in summary.findings:
        if f.kind == "n_plus_one":
            lines.append(f"N+1: {f.count}x in {f.request} from {f.call_site} ({f.total_ms} ms): {f.sql}")
    lines.append("Top queries by total time:")
    for g in summary.groups[:top]:
        lines.append(f"- {g.calls} call(s), {g.total_ms} ms total, {g.mean_ms} ms mean, max {g.max_ms} ms; "
                     f"at {', '.join(g.call_sites) or 'unknown site'}\n  SQL: {g.sql}\n  params: {g.params or '[]'}")
    return "\n".join(lines)


class AnalyzeLogs(Tool):
    name = "analyze_logs"
    input_schema = {
        "type": "object",
        "properties": {
            "paths": {"type": "array", "items": {"type": "string"},
                      "description": "Log files (Ecto/Phoenix dev logs), relative to the project root."},
            "format": {"type": "string", "enum": ["text", "json"],
                       "description": "text (default) for reading; json for the full structured result."},
        },
        "required": ["paths"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        from tools.fs.paths import confine

        paths = params.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise ToolError("analyze_logs needs `paths`: a list of log files")
        resolved = []
        for raw in paths:
            path = confine(ctx, raw)
            if not path.is_file():
                raise ToolError(f"not a file: {raw}")
            resolved.append(path)
        summary = summarize(resolved)
        if params.get("format") == "json":
            return json.dumps(summary.model_dump(), indent=1)
        return render(summary)
