"""The agent loop, driven by ScriptedModel: tool turns, stop reasons, limits, transcript, redaction, caching."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent.loop import (CONTINUE_AFTER_MAX_TOKENS, Agent, Limits, ModelError, cut_output, render_system)
from agent.models import ScriptedModel, as_message, message, text, tool_use
from agent.pricing import cost, price_for
from agent.transcript import Transcript, read, redact_data, runs_dir
from tools.base import Tool, ToolContext, ToolError
from tools.redact import redact_text

FAKE_KEY = "sk-ant-api03-" + "Zq7" * 14
DB_PASSWORD = "s3cr3t-Pa55word"
DB_URL = f"postgres://app:{DB_PASSWORD}@db.internal:5432/shop_prod"
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"


class FakeTool(Tool):
    input_schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    @property
    def description(self) -> str:
        return f"{self.name}: a test tool.\nSecond line."


class Echo(FakeTool):
    name = "echo"

    def run(self, params, ctx):
        return params.get("text", "")


class Missing(FakeTool):
    name = "missing_file"

    def run(self, params, ctx):
        raise ToolError("file not found: lib/nope.ex")


class Crash(FakeTool):
    name = "crash"

    def run(self, params, ctx):
        raise ValueError("unexpected None")


class Big(FakeTool):
    name = "big"

    def run(self, params, ctx):
        return "HEAD" + "x" * 99_992 + "TAIL"


class Slow(FakeTool):
    name = "slow"

    def run(self, params, ctx):
        time.sleep(0.15)
        return "slept"


TOOLS = [Echo(), Missing(), Crash(), Big(), Slow()]


def make_agent(tmp_path: Path, responses, *, tools=TOOLS, model_id="scripted", transcript=True, **kw):
    model = ScriptedModel(responses, model_id=model_id)
    ctx = ToolContext(project_root=tmp_path, database_url=kw.pop("database_url", None))
    tr = Transcript.for_session("s1", tmp_path) if transcript else None
    agent = Agent(model, tools, ctx, system=kw.pop("system", "You are a test."), transcript=tr,
                  session_id="s1", **kw)
    return agent, model


def results_of(call: dict) -> list[dict]:
    last = call["messages"][-1]
    assert last["role"] == "user"
    return last["content"]


# -- tool turns ------------------------------------------------------------------------------

def test_all_tool_calls_of_a_turn_are_answered_together(tmp_path):
    agent, model = make_agent(tmp_path, [
        message("Looking at both.", tool_use("echo", {"text": "one"}, id="t1"), tool_use("echo", {"text": "two"}, id="t2")),
        message("Both said hello."),
    ])
    result = agent.run("check both")
    assert result.subtype == "success" and not result.is_error
    assert result.result == "Both said hello."
    assert result.num_turns == 2 and result.stop_reason == "end_turn"
    blocks = results_of(model.calls[1])
    assert [(b["type"], b["tool_use_id"], b["content"]) for b in blocks] == [
        ("tool_result", "t1", "one"), ("tool_result", "t2", "two")]
    assert all("is_error" not in b for b in blocks)
    # the history alternates user / assistant / user / assistant
    assert [m["role"] for m in agent.messages] == ["user", "assistant", "user", "assistant"]


def test_tool_failures_come_back_as_is_error_results(tmp_path):
    agent, model = make_agent(tmp_path, [
        message(tool_use("missing_file", {}, id="a"), tool_use("crash", {}, id="b"),
                tool_use("no_such_tool", {"x": 1}, id="c"), {"type": "tool_use", "id": "d", "name": "echo", "input": "not an object"}),
        message("I could not read it."),
    ])
    result = agent.run("go")
    assert result.subtype == "success"
    blocks = {b["tool_use_id"]: b for b in results_of(model.calls[1])}
    assert all(b["is_error"] is True for b in blocks.values())
    assert blocks["a"]["content"] == "file not found: lib/nope.ex"
    assert blocks["b"]["content"] == "the tool crashed: ValueError: unexpected None"
    assert "no tool named 'no_such_tool'" in blocks["c"]["content"] and "echo" in blocks["c"]["content"]
    assert "JSON object" in blocks["d"]["content"]
    crash_line = next(e for e in read(agent.transcript.path) if e.get("name") == "crash")
    assert "ValueError" in crash_line["traceback"]


def test_long_tool_output_is_cut_visibly_keeping_head_and_tail(tmp_path):
    agent, model = make_agent(tmp_path, [message(tool_use("big", {})), message("ok")], max_tool_output=1_000)
    agent.run("go")
    content = results_of(model.calls[1])[0]["content"]
    assert content.startswith("HEAD") and content.endswith("TAIL")
    assert "[… 99,000 characters cut …]" in content
    assert len(content) < 1_100
    line = next(e for e in read(agent.transcript.path) if e["type"] == "tool")
    assert line["output_chars"] == 100_000


def test_cut_output_leaves_short_text_alone():
    assert cut_output("short", 10) == "short"
    cut = cut_output("a" * 50 + "b" * 50, 30)
    assert cut.startswith("a" * 20) and cut.endswith("b" * 10) and "70 characters cut" in cut


# -- stop reasons ----------------------------------------------------------------------------

def test_max_tokens_asks_to_continue_once(tmp_path):
    agent, model = make_agent(tmp_path, [
        message("The plan shows a seq sc", stop_reason="max_tokens"),
        message("an on orders; add an index."),
    ])
    result = agent.run("why slow")
    assert result.subtype == "success"
    assert results_of(model.calls[1]) == [{"type": "text", "text": CONTINUE_AFTER_MAX_TOKENS, "cache_control": {"type": "ephemeral"}}]


def test_max_tokens_twice_ends_with_the_partial_answer(tmp_path):
    agent, model = make_agent(tmp_path, [
        message("first part", stop_reason="max_tokens"),
        message("second part", stop_reason="max_tokens"),
        message("never asked for"),
    ])
    result = agent.run("go")
    assert (result.subtype, result.is_error, result.result) == ("error_max_tokens", True, "second part")
    assert len(model.calls) == 2


def test_max_tokens_inside_a_tool_call_answers_it_without_running_it(tmp_path):
    agent, model = make_agent(tmp_path, [
        message(tool_use("echo", {"text": "trunc"}, id="cut1"), stop_reason="max_tokens"),
        message("done"),
    ])
    assert agent.run("go").subtype == "success"
    blocks = results_of(model.calls[1])
    assert blocks[0]["tool_use_id"] == "cut1" and blocks[0]["is_error"] is True
    assert "not run" in blocks[0]["content"]
    assert blocks[1]["text"] == CONTINUE_AFTER_MAX_TOKENS
    assert not any(e["type"] == "tool" for e in read(agent.transcript.path))


def test_pause_turn_is_sent_back_as_is(tmp_path):
    paused = message("Still searching…", stop_reason="pause_turn")
    agent, model = make_agent(tmp_path, [paused, message("Found it.")])
    result = agent.run("go")
    assert result.subtype == "success" and result.result == "Found it." and result.num_turns == 2
    last = model.calls[1]["messages"][-1]
    assert last["role"] == "assistant" and last["content"][0]["text"] == "Still searching…"


def test_refusal_ends_with_is_error_and_the_reason(tmp_path):
    agent, model = make_agent(tmp_path, [
        message("I can't help with", stop_reason="refusal",
                stop_details={"type": "refusal", "category": "cyber", "explanation": "looks like an exploit"}),
    ])
    result = agent.run("go")
    assert (result.subtype, result.is_error) == ("error_refusal", True)
    assert "refusal" in result.errors[0] and "looks like an exploit" in result.errors[0]
    assert [m["role"] for m in agent.messages] == ["user"]  # the refused turn is not kept


def test_context_window_exceeded_ends_cleanly(tmp_path):
    agent, _ = make_agent(tmp_path, [message("partial findings", stop_reason="model_context_window_exceeded")])
    result = agent.run("go")
    assert (result.subtype, result.is_error, result.result) == ("error_context_window", True, "partial findings")
    assert "context window" in result.errors[0]


def test_stop_sequence_is_a_finished_answer(tmp_path):
    agent, _ = make_agent(tmp_path, [message("answer", stop_reason="stop_sequence", stop_sequence="END")])
    assert agent.run("go").subtype == "success"


def test_tool_use_without_a_tool_call_finishes(tmp_path):
    agent, model = make_agent(tmp_path, [message("odd", stop_reason="tool_use")])
    assert agent.run("go").subtype == "success" and len(model.calls) == 1


def test_unknown_stop_reason_is_an_error(tmp_path):
    agent, _ = make_agent(tmp_path, [message("?", stop_reason="something_new")])
    result = agent.run("go")
    assert result.subtype == "error_during_execution" and "something_new" in result.errors[0]


def test_api_failure_and_exhausted_script_end_with_a_result(tmp_path):
    agent, _ = make_agent(tmp_path, [ModelError("the Anthropic API answered 529 overloaded after 2 retries")])
    result = agent.run("go")
    assert (result.subtype, result.is_error) == ("error_api", True)
    assert result.errors == ["the Anthropic API answered 529 overloaded after 2 retries"]

    agent, _ = make_agent(tmp_path, [])
    result = agent.run("go")
    assert result.subtype == "error_during_execution" and "ran out of responses" in result.errors[0]


# -- limits ----------------------------------------------------------------------------------

def forever(n=20):
    return [message(f"step {i}", tool_use("echo", {"text": str(i)})) for i in range(1, n + 1)]


def test_max_turns_ends_with_a_partial_result(tmp_path):
    agent, model = make_agent(tmp_path, forever(), limits=Limits(max_turns=3))
    result = agent.run("go")
    assert (result.subtype, result.is_error, result.num_turns) == ("error_max_turns", True, 3)
    assert result.result == "step 3"
    assert "3 turns" in result.errors[0]
    assert len(model.calls) == 3
    assert agent.messages[-1]["role"] == "user"  # the last tool calls were answered


def test_max_cost_ends_the_run(tmp_path):
    million_in = {"input_tokens": 1_000_000, "output_tokens": 0}
    responses = [message(f"step {i}", tool_use("echo", {"text": "x"}), usage=dict(million_in)) for i in range(5)]
    agent, _ = make_agent(tmp_path, responses, model_id="claude-sonnet-4-6", limits=Limits(max_cost_usd=5.0))
    result = agent.run("go")
    assert (result.subtype, result.num_turns) == ("error_max_cost", 2)
    assert result.total_cost_usd == pytest.approx(6.0) and result.cost_known
    assert result.usage.input_tokens == 2_000_000


def test_wall_time_ends_the_run(tmp_path):
    agent, _ = make_agent(tmp_path, [message("sleeping", tool_use("slow", {}))] * 5, limits=Limits(max_seconds=0.1))
    result = agent.run("go")
    assert (result.subtype, result.num_turns, result.result) == ("error_wall_time", 1, "sleeping")


def test_limits_cut_short_leave_no_unanswered_tool_call(tmp_path):
    # a cost limit can only trip before a query, so the history ends with the answered tool calls
    agent, _ = make_agent(tmp_path, forever(), limits=Limits(max_turns=1))
    agent.run("go")
    ids = {b["id"] for b in agent.messages[1]["content"] if b["type"] == "tool_use"}
    assert ids == {b["tool_use_id"] for b in agent.messages[2]["content"]}


# -- transcript ------------------------------------------------------------------------------

def test_transcript_lines(tmp_path):
    agent, _ = make_agent(tmp_path, [
        message("Reading.", tool_use("echo", {"text": "hi"}, id="e1"), tool_use("missing_file", {}, id="m1"),
                usage={"input_tokens": 1200, "output_tokens": 80, "cache_creation_input_tokens": 900}),
        message("Done."),
    ], limits=Limits(max_turns=7))
    result = agent.run("find the slow query")
    path = tmp_path / ".ecto-optimizer" / "runs" / "s1.jsonl"
    assert result.transcript == str(path)
    assert (tmp_path / ".ecto-optimizer" / ".gitignore").read_text() == "*\n"
    lines = read(path)
    assert [e["type"] for e in lines] == ["header", "response", "tool", "tool", "response", "result"]
    header, first, echo, missing, second, final = lines
    assert header["model"] == "scripted" and header["task"] == "find the slow query"
    assert header["limits"]["max_turns"] == 7 and header["tools"] == ["echo", "missing_file", "crash", "big", "slow"]
    assert first["stop_reason"] == "tool_use" and first["usage"]["input_tokens"] == 1200
    assert first["content"][0] == {"type": "text", "text": "Reading."}
    assert (echo["name"], echo["input"], echo["output"], echo["is_error"]) == ("echo", {"text": "hi"}, "hi", False)
    assert isinstance(echo["duration_ms"], int)
    assert missing["is_error"] is True and missing["output"] == "file not found: lib/nope.ex"
    assert second["stop_reason"] == "end_turn"
    assert final["subtype"] == "success" and final["result"] == "Done." and final["num_turns"] == 2
    assert final["usage"]["cache_creation_input_tokens"] == 900
    assert all("ts" in e for e in lines)


def test_transcript_survives_a_crash_midway(tmp_path):
    class Kill(FakeTool):
        name = "kill"

        def run(self, params, ctx):
            raise SystemExit(3)  # not caught by the loop: the process is going away

    agent, _ = make_agent(tmp_path, [message(tool_use("kill", {}))], tools=[Kill()])
    with pytest.raises(SystemExit):
        agent.run("go")
    assert [e["type"] for e in read(agent.transcript.path)] == ["header", "response"]


def test_second_message_in_a_session_is_a_user_line(tmp_path):
    agent, model = make_agent(tmp_path, [message("one"), message("two")])
    agent.run("first")
    agent.run("second")
    types = [e["type"] for e in read(agent.transcript.path)]
    assert types == ["header", "response", "result", "user", "response", "result"]
    assert [m["role"] for m in model.calls[1]["messages"]] == ["user", "assistant", "user"]
    agent.reset()
    assert agent.messages == [] and read(agent.transcript.path)[-1]["type"] == "reset"


# -- redaction -------------------------------------------------------------------------------

class Leaky(FakeTool):
    name = "leaky"

    def run(self, params, ctx):
        return (f"ANTHROPIC_API_KEY={FAKE_KEY}\nconnecting to {DB_URL}\n"
                f'headers: {{"Authorization": "{BEARER}"}}\nraw password: {DB_PASSWORD}\n')


def test_secrets_never_reach_the_transcript_or_the_result(tmp_path):
    agent, model = make_agent(tmp_path, [
        message("Let me look.", tool_use("leaky", {"url": DB_URL, "header": f"Authorization: {BEARER}",
                                                   "headers": {"x-api-key": FAKE_KEY}})),
        message(f"Your key {FAKE_KEY} and {DB_URL} leaked; also Authorization: {BEARER}."),
    ], tools=[Leaky()], database_url=DB_URL)
    result = agent.run(f"check {DB_URL} with key {FAKE_KEY}")
    recorded = agent.transcript.path.read_text()
    everything = [recorded, result.model_dump_json(), json.dumps(model.calls[1]["messages"][-1])]
    for blob in everything:
        for secret in (FAKE_KEY, DB_PASSWORD, "eyJhbGciOiJIUzI1NiJ9"):
            assert secret not in blob
    assert "postgres://app:***@db.internal:5432/shop_prod" in recorded
    # the task the model received was redacted too
    assert DB_PASSWORD not in json.dumps(model.calls[0]["messages"])


def test_redact_data_masks_secret_keys_and_json_headers():
    data = {"Authorization": "Token abc", "nested": [{"password": "pw"}, '{"Authorization": "Bearer abcdefgh123"}']}
    assert redact_data(data) == {"Authorization": "***", "nested": [{"password": "***"}, '{"Authorization": "***"}']}
    assert redact_text(f"run with {BEARER}") == "run with Bearer ***"


# -- prompt caching --------------------------------------------------------------------------

def count_marks(call: dict) -> int:
    return json.dumps(call).count('"cache_control"')


def test_cache_breakpoints_move_with_the_conversation(tmp_path):
    agent, model = make_agent(tmp_path, [
        message(tool_use("echo", {"text": "1"})), message(tool_use("echo", {"text": "2"})), message("done"),
    ])
    agent.run("go")
    for call in model.calls:
        assert count_marks(call) == 3 <= 4
        assert call["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert call["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in t for t in call["tools"][:-1])
        assert call["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in b for m in call["messages"][:-1] for b in m["content"])
    assert "cache_control" not in json.dumps(agent.messages)  # the history itself stays clean


# -- small pieces ----------------------------------------------------------------------------

def test_render_system_lists_tools_and_keeps_braces():
    rendered = render_system("Use these:\n{tools}\nElixir maps look like %{a: 1}.", [Echo(), Missing()])
    assert "- **echo**: echo: a test tool." in rendered and "- **missing_file**:" in rendered
    assert "%{a: 1}" in rendered and "{tools}" not in rendered


def test_scripted_helpers_fill_a_full_message():
    msg = as_message([text("hi"), tool_use("echo", {"text": "x"})], 3)
    assert msg["stop_reason"] == "tool_use" and msg["content"][1]["id"] == "toolu_0003_1"
    assert msg["usage"]["cache_read_input_tokens"] == 0 and msg["id"] == "msg_0003"


def test_pricing_table():
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cache_creation_input_tokens": 1_000_000,
             "cache_read_input_tokens": 1_000_000}
    assert cost("claude-sonnet-4-6", usage).usd == pytest.approx(3 + 15 + 3.75 + 0.30)
    assert cost("claude-haiku-4-5-20251001", usage).usd == pytest.approx(1 + 5 + 1.25 + 0.10)
    assert cost("claude-opus-4-8", usage).usd == pytest.approx(5 + 25 + 6.25 + 0.50)
    unknown = cost("claude-unreleased-9", usage)
    assert (unknown.usd, unknown.known) == (0.0, False)
    assert price_for("claude-sonnet-4-5-20250929") is not None


def test_runs_dir_is_created_with_its_own_gitignore(tmp_path):
    path = runs_dir(tmp_path)
    assert path == tmp_path / ".ecto-optimizer" / "runs" and path.is_dir()
    assert (tmp_path / ".ecto-optimizer" / ".gitignore").read_text() == "*\n"
