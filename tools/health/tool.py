"""The agent's `db_health` and `describe_table` tools."""

from __future__ import annotations

import json
from typing import Any

from tools.base import Tool, ToolContext, ToolError
from tools.health.model import SEVERITY_ORDER


class DbHealth(Tool):
    name = "db_health"
    input_schema = {
        "type": "object",
        "properties": {
            "checks": {"type": "array", "items": {"type": "string"},
                       "description": "Run only these checks (ids such as fk-without-index, duplicate-index, "
                                      "unused-index, config, pool-size). Default: all."},
            "min_severity": {"type": "string", "enum": ["error", "warning", "info"],
                             "description": "Leave out findings below this severity. Default info (all)."},
            "cores": {"type": "integer", "minimum": 1, "description": "The database server's CPU cores, if known."},
            "memory": {"type": "string", "description": "The database server's RAM, e.g. \"16GB\", if known."},
            "storage": {"type": "string", "enum": ["ssd", "hdd", "nvme", "san"]},
            "workload": {"type": "string", "enum": ["web", "oltp", "dw", "mixed", "desktop"],
                         "description": "PGTune's workload type. Default web."},
            "app_nodes": {"type": "integer", "minimum": 1, "description": "App instances, each with its own pool."},
            "format": {"type": "string", "enum": ["text", "json"]},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        from tools.health.config import machine_from_flags
        from tools.health.runner import run_health

        checks = params.get("checks") or None
        if checks is not None and not (isinstance(checks, list) and all(isinstance(c, str) for c in checks)):
            raise ToolError("`checks` must be a list of check ids")
        floor = params.get("min_severity", "info")
        if floor not in SEVERITY_ORDER:
            raise ToolError("`min_severity` must be error, warning or info")
        machine = machine_from_flags(cores=params.get("cores"), memory=params.get("memory"),
                                     storage=params.get("storage"))
        project = ctx.project_root if (ctx.project_root / "config").is_dir() else None
        report = run_health(ctx.database_url, project=project, machine=machine,
                            workload=params.get("workload", "web"), app_nodes=int(params.get("app_nodes") or 1),
                            only=checks)
        report.findings = [f for f in report.findings if SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[floor]]
        if params.get("format") == "json":
            return json.dumps(report.as_json(), indent=1, default=str)
        return report.text()


class DescribeTable(Tool):
    name = "describe_table"
    input_schema = {
        "type": "object",
        "properties": {
            "table": {"type": "string", "description": "The table, e.g. \"orders\" or \"billing.invoices\"."},
            "format": {"type": "string", "enum": ["text", "json"]},
        },
        "required": ["table"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        from tools.health.describe import describe_table

        table = params.get("table")
        if not isinstance(table, str) or not table.strip():
            raise ToolError("describe_table needs `table`: a table name such as orders or billing.invoices")
        result = describe_table(ctx.database_url, table)
        if params.get("format") == "json":
            return json.dumps(result.as_json(), indent=1, default=str)
        return result.text()
