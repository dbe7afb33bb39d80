"""`ecto-optimizer run` and `chat` end to end: the real SDK against the stand-in API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent import commands
from agent.cli import app
from agent.models import message, tool_use
from agent.standin_api import StandinAPI
from agent.transcript import read
from tools.base import Tool, ToolError

FAKE_KEY = "sk-ant-api03-CLITEST" + "x7" * 20
DB_PASSWORD = "cli-db-Passw0rd"
DB_URL = f"postgresql://shop:{DB_PASSWORD}@localhost:5432/shop_dev"
RESULT_KEYS = {"type", "subtype", "is_error", "result", "num_turns", "duration_ms", "usage", "total_cost_usd",
               "session_id", "transcript", "stop_reason", "errors", "report"}
USAGE_KEYS = {"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"}


class Count(Tool):
    name = "count_rows"
    input_schema = {"type": "object", "properties": {"table": {"type": "string"}}, "required": ["table"]}

    @property
    def description(self) -> str:
        return "Count a table's rows."

    def run(self, params, ctx):
        # a careless tool that prints the connection string: the transcript must not keep it
        return f"{params['table']}: 52,004 rows (via {ctx.database_url})"


class Change(Tool):
    name = "change_file"
    read_only = False
    input_schema = {"type": "object", "properties": {"path": {"type": "string"}}}

    @property
    def description(self) -> str:
        return "Pretend to edit a file."

    def run(self, params, ctx):
        if not ctx.allow_edits and not (ctx.approve and ctx.approve("Edit", f"change {params['path']}")):
            raise ToolError("the user did not allow this edit")
        return f"changed {params['path']}"


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    monkeypatch.setattr(commands, "default_tools", lambda: [Count(), Change()])
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ECTO_OPTIMIZER_MODEL", raising=False)
    monkeypatch.delenv("ECTO_OPTIMIZER_RUNS_DIR", raising=False)
    monkeypatch.setenv("ECTO_OPTIMIZER_MAX_RETRIES", "0")

    def start(script):
        api = StandinAPI(script).start()
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        return api

    servers: list[StandinAPI] = []
    yield lambda script: servers.append(start(script)) or servers[-1]
    for api in servers:
        api.stop()


def script():
    return [message("Counting.", tool_use("count_rows", {"table": "orders"}, id="toolu_1")),
            message("orders has 52,004 rows; an index on customer_id fits.")]


def test_chat_without_an_api_key_is_one_line_and_exit_2(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["chat", "--project", str(tmp_path)], input="hello\n")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "ANTHROPIC_API_KEY" in result.stderr
    assert not (tmp_path / ".ecto-optimizer").exists()


def test_run_without_an_api_key_falls_back_to_the_reference_policy(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["run", "why is /orders slow?", "--project", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert "offline reference policy" in result.stderr
    data = json.loads(result.stdout)
    assert data["subtype"] == "success" and data["total_cost_usd"] == 0
    # It says what it could not do rather than inventing findings.
    assert "No slow query found" in data["result"]


def test_run_json_through_the_sdk(cli_env, tmp_path):
    api = cli_env(script())
    result = CliRunner().invoke(app, ["run", "why is /orders slow?", "--project", str(tmp_path), "--json",
                                      "--database-url", DB_URL, "--max-turns", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == RESULT_KEYS and set(data["usage"]) == USAGE_KEYS
    assert (data["type"], data["subtype"], data["is_error"]) == ("result", "success", False)
    assert data["result"] == "orders has 52,004 rows; an index on customer_id fits."
    assert data["num_turns"] == 2 and data["usage"]["input_tokens"] > 0 and data["total_cost_usd"] > 0
    transcript = tmp_path / ".ecto-optimizer" / "runs" / f"{data['session_id']}.jsonl"
    assert data["transcript"] == str(transcript.resolve())
    text = transcript.read_text()
    assert FAKE_KEY not in text and DB_PASSWORD not in text
    assert [e["type"] for e in read(transcript)] == ["header", "response", "tool", "response", "result"]
    assert (tmp_path / ".ecto-optimizer" / ".gitignore").read_text() == "*\n"
    # the model got the packaged system prompt with this session's tools, and no password
    first = api.requests[0]["body"]
    assert "- **count_rows**: Count a table's rows." in first["system"][0]["text"]
    assert DB_PASSWORD not in json.dumps(api.requests[1]["body"])


def test_run_text_mode_prints_the_answer(cli_env, tmp_path):
    cli_env(script())
    result = CliRunner().invoke(app, ["run", "why?", "--project", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout == "orders has 52,004 rows; an index on customer_id fits.\n"
    assert "2 turns" in result.stderr


def test_run_that_fails_exits_1_with_the_reason(cli_env, tmp_path):
    api = cli_env(script())
    api.fail_next(400, message="tools.0.name: String should match pattern")
    result = CliRunner().invoke(app, ["run", "why?", "--project", str(tmp_path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["subtype"], data["is_error"]) == ("error_api", True)
    assert data["errors"] == ["the Anthropic API answered 400 invalid_request: tools.0.name: String should match pattern"]
    assert read(data["transcript"])[-1]["subtype"] == "error_api"


def test_run_hitting_max_turns_exits_1_with_partial_result(cli_env, tmp_path):
    cli_env(script())
    result = CliRunner().invoke(app, ["run", "why?", "--project", str(tmp_path), "--json", "--max-turns", "1"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["subtype"], data["result"], data["num_turns"]) == ("error_max_turns", "Counting.", 1)


@pytest.mark.parametrize("args", [["--max-turns", "0"], ["--max-cost", "-1"], ["--bogus"], []])
def test_bad_arguments_exit_2(cli_env, tmp_path, args):
    argv = ["run", "task", *args] if args else ["run"]
    assert CliRunner().invoke(app, argv).exit_code == 2


def test_missing_project_exits_2(cli_env, tmp_path):
    result = CliRunner().invoke(app, ["run", "task", "--project", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "project directory not found" in result.stderr


def test_database_url_comes_from_the_environment(cli_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    api = cli_env(script())
    result = CliRunner().invoke(app, ["run", "why?", "--project", str(tmp_path), "--json"])
    assert result.exit_code == 0
    tool_output = api.requests[1]["body"]["messages"][-1]["content"][0]["content"]
    # the tool got the URL (not None); only its password is a secret, so the rest stays readable
    assert tool_output == "orders: 52,004 rows (via postgresql://shop:***@localhost:5432/shop_dev)"


def test_chat_streams_asks_before_editing_and_exits_on_eof(cli_env, tmp_path):
    cli_env([
        message("Let me change it.", tool_use("change_file", {"path": "lib/shop/orders.ex"}, id="toolu_c")),
        message("Changed lib/shop/orders.ex to preload customers once."),
    ])
    # the question, the approval, /cost, then stdin closes
    result = CliRunner().invoke(app, ["chat", "--project", str(tmp_path)], input="fix the N+1\ny\n/cost\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Let me change it." in out and "Changed lib/shop/orders.ex to preload customers once." in out
    assert "Allow Edit: change lib/shop/orders.ex [y/N]" in out
    assert "2 turns" in out  # /cost
    runs = list((tmp_path / ".ecto-optimizer" / "runs").glob("*.jsonl"))
    assert len(runs) == 1 and FAKE_KEY not in runs[0].read_text()
    tool_line = next(e for e in read(runs[0]) if e["type"] == "tool")
    assert (tool_line["output"], tool_line["is_error"]) == ("changed lib/shop/orders.ex", False)


def test_chat_denied_edit_and_reset(cli_env, tmp_path):
    api = cli_env([
        message(tool_use("change_file", {"path": "mix.exs"}, id="toolu_d")),
        message("Understood, I left mix.exs alone."),
        message("Fresh start."),
    ])
    result = CliRunner().invoke(app, ["chat", "--project", str(tmp_path)], input="edit mix.exs\nn\n/reset\nhello\n/exit\n")
    assert result.exit_code == 0, result.output
    denied = api.requests[1]["body"]["messages"][-1]["content"][0]
    assert denied["is_error"] is True and "did not allow" in denied["content"]
    assert len(api.requests[2]["body"]["messages"]) == 1  # after /reset only the new message is sent


def test_chat_on_closed_stdin_exits_cleanly(cli_env, tmp_path):
    cli_env([])
    result = CliRunner().invoke(app, ["chat", "--project", str(tmp_path)], input="")
    assert result.exit_code == 0
