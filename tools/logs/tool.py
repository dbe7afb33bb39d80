"""The evidence tools as the agent sees them: `analyze_logs` (what the app sent, from its logs)
and `query_stats` (what the database spent its time on, from pg_stat_statements)."""

from __future__ import annotations

import json
from typing import Any

from tools.base import Tool, ToolContext, ToolError

MAX_GROUPS = 50


class AnalyzeLogs(Tool):
    name = "analyze_logs"
    input_schema = {
        "type": "object",
        "properties": {
            "paths": {"type": "array", "items": {"type": "string"},
                      "description": "Log files, relative to the project root: Ecto/Phoenix dev logs or PostgreSQL "
                                     "logs (stderr, csvlog, jsonlog); the format is detected per file."},
            "format": {"type": "string", "enum": ["text", "json"],
                       "description": "text (default) for reading; json for the full structured result."},
            "slow_ms": {"type": "number", "description": "Report queries whose p95 or mean reaches this. Default 100."},
        },
        "required": ["paths"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        from tools.fs.paths import confine
        from tools.logs.summary import SLOW_MS, render, summarize

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
        slow_ms = params.get("slow_ms", SLOW_MS)
        if not isinstance(slow_ms, (int, float)) or isinstance(slow_ms, bool) or slow_ms < 0:
            raise ToolError("slow_ms must be a number of milliseconds")
        summary = summarize(resolved, slow_ms=float(slow_ms), code=ctx.project_root)
        if params.get("format") == "json":
            data = summary.model_dump()
            if len(data["groups"]) > MAX_GROUPS:
                # A model reads this whole: the costliest queries carry the answer, the tail is noise.
                data["groups_left_out"] = len(data["groups"]) - MAX_GROUPS
                data["groups"] = data["groups"][:MAX_GROUPS]
            return json.dumps(data, indent=1)
        return render(summary)


class QueryStats(Tool):
    name = "query_stats"
    input_schema = {
        "type": "object",
        "properties": {
            "order_by": {"type": "string", "enum": ["total", "mean", "calls", "io"],
                         "description": "Rank by total time (default), mean time, calls, or I/O time."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "How many queries. Default 10."},
            "format": {"type": "string", "enum": ["text", "json"],
                       "description": "text (default) for reading; json for the full structured result."},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        from tools.logs.stats import render_top, stats_file, top_queries

        order_by = params.get("order_by", "total")
        limit = params.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise ToolError("limit must be a whole number from 1 to 100")
        if not ctx.database_url:
            raise ToolError("query_stats needs a database: this session has no database URL")
        report = top_queries(ctx.database_url, order_by=str(order_by), limit=limit,
                             snapshots=stats_file(ctx.project_root))
        if params.get("format") == "json":
            return json.dumps(report.model_dump(), indent=1)
        return render_top(report)
