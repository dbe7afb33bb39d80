"""The MCP server driven by the mcp client over stdio, as Claude Code would drive it."""

import asyncio
import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from evals.workspace import clean, prepare


def server_params(project, database_url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC")}  # offline: the reference policy
    args = ["-m", "agent", "mcp", "--project", str(project)]
    if database_url:
        args += ["--database-url", database_url]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def workspace(pg_server, tmp_path_factory):
    ws = tmp_path_factory.mktemp("mcp") / "helpdesk"
    state = prepare("fk-index-preload", ws, server_url=pg_server.url())
    yield ws, state.database_url
    clean(ws)


def test_tools_are_listed_with_read_only_hints(tmp_path):
    async def go():
        async with Client(server_params(tmp_path)) as client:
            return (await client.list_tools()).tools
    tools = {t.name: t for t in run(go())}
    assert {"explain", "analyze_logs", "optimize"} <= set(tools)
    assert tools["explain"].annotations.read_only_hint is True
    assert tools["optimize"].annotations.read_only_hint is False
    assert tools["explain"].output_schema and "sql" in tools["explain"].input_schema["properties"]


def test_explain_returns_structured_content(workspace):
    ws, url = workspace
    sql = 'SELECT c0."id" FROM "comments" AS c0 WHERE (c0."ticket_id" = $1)'

    async def go():
        async with Client(server_params(ws, url)) as client:
            return await client.call_tool("explain", {"sql": sql, "params": [48213]})
    result = run(go())
    assert not result.is_error
    data = result.structured_content
    assert data["analyzed"] is True
    assert data["insights"][0]["id"] == "seq-scan-filter" and data["insights"][0]["relation"] == "comments"


def test_bad_input_is_a_readable_tool_error(tmp_path):
    async def go():
        async with Client(server_params(tmp_path, "postgresql://nobody@127.0.0.1:1/none")) as client:
            return await client.call_tool("explain", {"sql": "DROP TABLE users"})
    result = run(go())
    assert result.is_error and "refusing to explain DROP" in result.content[0].text


def test_optimize_runs_the_agent_and_reports_progress(workspace):
    ws, url = workspace
    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    async def go():
        async with Client(server_params(ws, url)) as client:
            return await client.call_tool("optimize", {"task": "Opening a ticket takes a second. Fix it.",
                                                       "allow_edits": True}, progress_callback=on_progress)
    result = run(go())
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["subtype"] == "success"
    report = data["report"]
    assert report["submitted_by_model"] is True
    (change,) = report["changes"]
    assert change["kind"] == "migration" and "concurrently: true" in change["diff"]
    assert any(m.startswith("running explain") for m in progress), progress
    for c in report["changes"]:
        (ws / c["file"]).unlink()  # leave the workspace as prepared for other tests
