"""`ecto-optimizer mcp`: the analysis tools and the whole agent as an MCP server over stdio.

A coding assistant gets our tools under their own names, read-only ones marked so, with
structured results; and `optimize`, which runs the agent on a task and returns its report,
sending progress notifications while it works. The host's own model can call the analysis
tools directly, or hand the whole job to `optimize`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from mcp_types import ToolAnnotations

from prompts import tool_description
from tools.base import ToolContext
from tools.errors import InputError

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
INSTRUCTIONS = (
    "ecto-optimizer is an Ecto/PostgreSQL performance specialist. Use `explain` on a query as Ecto logs it "
    "(SQL with $n and its params), `analyze_logs` on dev logs, or `optimize` to hand over a whole task "
    "(a slow page, a migration to review) and get back a report with findings, changes and measurements. "
    "Everything runs read-only against the database, in rolled-back transactions."
)


def build_server(project: Path, database_url: str | None = None) -> MCPServer:
    project = project.resolve()
    database_url = database_url or os.environ.get("DATABASE_URL")
    server = MCPServer("ecto-optimizer", instructions=INSTRUCTIONS)

    def context(**overrides: Any) -> ToolContext:
        return ToolContext(project_root=project, database_url=database_url, **overrides)

    def call_json(tool_name: str, params: dict[str, Any]) -> dict[str, Any]:
        from tools.registry import get_tool

        clean = {k: v for k, v in params.items() if v is not None}
        try:
            return json.loads(get_tool(tool_name).run({**clean, "format": "json"}, context()))
        except InputError as exc:  # bad input is the caller's to read, not a server crash
            raise MCPToolError(str(exc)) from None

    @server.tool(name="explain", description=tool_description("explain"), annotations=READ_ONLY)
    def explain(sql: str, params: list[Any] | str | None = None, analyze: bool = True) -> dict[str, Any]:
        return call_json("explain", {"sql": sql, "params": params, "analyze": analyze})

    @server.tool(name="analyze_logs", description=tool_description("analyze_logs"), annotations=READ_ONLY)
    def analyze_logs(paths: list[str]) -> dict[str, Any]:
        return call_json("analyze_logs", {"paths": paths})

    _register_optional_tools(server, call_json)

    @server.tool(name="optimize", description=tool_description("optimize"),
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True))
    async def optimize(task: str, ctx: Context, allow_edits: bool = False, max_turns: int = 30) -> dict[str, Any]:
        from agent.commands import build_agent, build_model, has_api_key, result_json
        from agent.loop import Limits
        from tools.report import assemble

        turn = 0

        def on_event(event: dict) -> None:
            nonlocal turn
            if event.get("type") == "response":
                turn += 1
                anyio.from_thread.run(ctx.report_progress, turn, max_turns, f"turn {turn}")
            elif event.get("type") == "tool_start":
                anyio.from_thread.run(ctx.report_progress, turn, max_turns, f"running {event.get('name')}")

        def work() -> dict[str, Any]:
            model = build_model(None, offline=not has_api_key())
            agent = build_agent(model, project=project, database_url=database_url, allow_edits=allow_edits,
                                allow_bash=False, limits=Limits(max_turns=max_turns), on_event=on_event)
            try:
                result = agent.run(task)
            finally:
                agent.close()
            return result_json(result, assemble(agent.ctx, result.result))

        return await anyio.to_thread.run_sync(work)

    return server


def _register_optional_tools(server: MCPServer, call_json) -> None:
    """Analysis tools that other parts of the project provide, exposed when they are installed."""
    from tools.registry import all_tools

    names = {t.name for t in all_tools()}
    if "advise_indexes" in names:
        @server.tool(name="advise_indexes", description=tool_description("advise_indexes"), annotations=READ_ONLY)
        def advise_indexes(queries: list[dict[str, Any]] | None = None, from_pg_stat_statements: bool = False,
                           budget_mb: float | None = None) -> dict[str, Any]:
            return call_json("advise_indexes", {"queries": queries, "from_pg_stat_statements": from_pg_stat_statements,
                                                "budget_mb": budget_mb})
    if "check_migrations" in names:
        @server.tool(name="check_migrations", description=tool_description("check_migrations"), annotations=READ_ONLY)
        def check_migrations(paths: list[str] | None = None) -> dict[str, Any]:
            return call_json("check_migrations", {"paths": paths})
    if "db_health" in names:
        @server.tool(name="db_health", description=tool_description("db_health"), annotations=READ_ONLY)
        def db_health() -> dict[str, Any]:
            return call_json("db_health", {})
    if "describe_table" in names:
        @server.tool(name="describe_table", description=tool_description("describe_table"), annotations=READ_ONLY)
        def describe_table(table: str) -> dict[str, Any]:
            return call_json("describe_table", {"table": table})


def serve(project: Path, database_url: str | None = None) -> None:
    if not project.is_dir():
        raise InputError(f"project directory not found: {project}")
    build_server(project, database_url).run("stdio")
