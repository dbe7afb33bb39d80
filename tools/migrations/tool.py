"""`check_migrations`: the migration linter (and, when the run allows it, the lock tracer) as one
agent tool, and the function the CLI shares with it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.base import Tool, ToolContext, ToolError
from tools.migrations.lint import LintResult, lint_paths


@dataclass
class CheckReport:
    result: LintResult
    traces: list = field(default_factory=list)
    fix_diff: str | None = None
    fix_notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = self.result.as_json()
        if self.traces:
            data["traces"] = [t.as_json() for t in self.traces]
        if self.fix_diff is not None:
            data["fix_preview"] = self.fix_diff
            data["fix_notes"] = self.fix_notes
        return data

    def text(self, min_severity: str = "info") -> str:
        parts = [self.result.text(min_severity=min_severity)]
        parts += [t.text() for t in self.traces]
        if self.fix_diff is not None:
            parts.append(self.fix_diff or "--fix would change nothing")
            parts += [f"note: {n}" for n in self.fix_notes]
        return "\n\n".join(p for p in parts if p)


def trace_checked(result: LintResult, database_url: str) -> list:
    """Trace every checked migration in order; each one replays the checked ones before it."""
    from tools.migrations.locks import trace_migration

    traces, earlier = [], []
    for mf in result.checked:
        if mf.migration is None:
            continue
        traces.append(trace_migration(mf.migration, database_url, display=mf.display,
                                      config=result.repo_config, earlier=list(earlier)))
        earlier.append(mf.migration)
    return traces


class CheckMigrations(Tool):
    name = "check_migrations"
    input_schema = {
        "type": "object",
        "properties": {
            "paths": {"type": "array", "items": {"type": "string"},
                      "description": "Migration files or directories, relative to the project. "
                                     "Default: priv/repo/migrations."},
            "since": {"type": "string",
                      "description": "Only report migrations with a version greater than this "
                                     "(the last one deployed), e.g. \"20240101120000\"."},
            "min_severity": {"type": "string", "enum": ["info", "warning", "error"],
                             "description": "Hide findings below this severity in text output. Default warning."},
            "fix_preview": {"type": "boolean",
                            "description": "Also return, as a diff, the mechanical rewrite --fix would "
                                           "write (nothing is written)."},
            "trace_locks": {"type": "boolean",
                            "description": "Run the migrations' SQL on the session's database inside a "
                                           "rolled-back transaction and report the locks, rewrites and "
                                           "scans observed. Only when the run allows database writes."},
            "format": {"type": "string", "enum": ["text", "json"], "description": "Default text."},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        from tools.fs.paths import confine

        raw = params.get("paths") or ["priv/repo/migrations"]
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise ToolError("paths must be a list of strings")
        paths = [confine(ctx, p) for p in raw]
        since = params.get("since")
        result = lint_paths(paths, since=str(since) if since else None, cwd=ctx.project_root,
                            root=ctx.project_root if (Path(ctx.project_root) / "mix.exs").is_file() else None)
        report = CheckReport(result)
        if params.get("fix_preview"):
            from tools.migrations.fix import plan_fixes

            plan = plan_fixes(result)
            report.fix_diff = plan.diff().replace(str(ctx.project_root) + "/", "")
            report.fix_notes = plan.notes
        if params.get("trace_locks"):
            if not ctx.database_url:
                raise ToolError("trace_locks needs a database: this session has none")
            if not ctx.allow_writes_to_database:
                result.notes.append("trace_locks was asked for, but this run does not allow running DDL "
                                    "on the database (even rolled back); not traced")
            else:
                report.traces = trace_checked(result, ctx.database_url)
        if params.get("format") == "json":
            return json.dumps(report.as_json(), indent=1, default=str)
        return report.text(min_severity=params.get("min_severity", "warning"))
