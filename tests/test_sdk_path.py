"""The loop through the real anthropic SDK, against agent/standin_api.py; then the same traffic
replayed from vcr cassettes with the stand-in stopped.

A cassette missing from tests/cassettes/ is recorded from the stand-in (record mode "once");
delete one to re-record it. Replays use max_retries=0 so a mismatch fails at once.
"""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest
import vcr

from agent import recording
from agent.loop import Agent, Limits
from agent.models import AnthropicModel, message, tool_use
from agent.standin_api import StandinAPI
from tools.base import Tool, ToolContext

CASSETTES = Path(__file__).parent / "cassettes"
FAKE_KEY = "sk-ant-api03-TESTONLY" + "k9" * 20
NOTHING_LISTENS = recording.NOTHING_LISTENS
SYSTEM = "You are a test agent. Use the tools, then answer in one line."


class Lookup(Tool):
    name = "lookup"
    input_schema = {"type": "object", "properties": {"table": {"type": "string"}}, "required": ["table"]}

    @property
    def description(self) -> str:
        return "Row count of a table."

    def run(self, params, ctx):
        return {"orders": "orders: 1,204,331 rows", "users": "users: 8,120 rows"}.get(params["table"], "unknown table")


def round_trip_script():
    return [
        message("Checking both tables.", tool_use("lookup", {"table": "orders"}, id="toolu_a"),
                tool_use("lookup", {"table": "users"}, id="toolu_b")),
        message("orders is large (1.2M rows); users is small."),
    ]


def sdk_agent(tmp_path, base_url, *, stream=False, max_retries=0, on_text=None, limits=None):
    client = anthropic.Anthropic(base_url=base_url, api_key=FAKE_KEY, max_retries=max_retries)
    model = AnthropicModel("claude-sonnet-4-6", client=client, stream=stream, on_text=on_text, max_tokens=1024)
    return Agent(model, [Lookup()], ToolContext(project_root=tmp_path), system=SYSTEM, limits=limits,
                 session_id="sdk-test")



def recorder(mode: str) -> vcr.VCR:
    # These cassettes match on the whole body: the loop must send exactly what it sent before.
    return recording.recorder(CASSETTES, mode, match_on=("method", "path", "body"))


def record_and_replay(tmp_path, name: str, script, *, prepare=None, **agent_kw):
    """Run the task once through a cassette (recording from the stand-in if it is missing),
    then again from the cassette alone; returns both results."""
    cassette = CASSETTES / f"{name}.yaml"
    recorded = None
    if not cassette.exists():
        with StandinAPI(script) as api, recorder("once").use_cassette(cassette.name):
            if prepare:
                prepare(api)
            recorded = sdk_agent(tmp_path, api.url, **agent_kw).run("How big are orders and users?")
    with recorder("none").use_cassette(cassette.name):
        replayed = sdk_agent(tmp_path, NOTHING_LISTENS, **{**agent_kw, "max_retries": 0}).run(
            "How big are orders and users?")
    text = cassette.read_text()
    assert FAKE_KEY not in text and "TESTONLY" not in text
    return recorded, replayed


# -- live against the stand-in -------------------------------------------------------------

def test_tool_use_round_trip_through_the_sdk(tmp_path):
    with StandinAPI(round_trip_script()) as api:
        result = sdk_agent(tmp_path, api.url).run("How big are orders and users?")
    assert (result.subtype, result.is_error, result.num_turns) == ("success", False, 2)
    assert result.result == "orders is large (1.2M rows); users is small."
    assert result.usage.input_tokens > 0 and result.total_cost_usd > 0
    second = api.requests[1]["body"]
    answers = second["messages"][-1]["content"]
    assert [(b["tool_use_id"], b["content"]) for b in answers] == [
        ("toolu_a", "orders: 1,204,331 rows"), ("toolu_b", "users: 8,120 rows")]
    assert second["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert second["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    # what the assistant said is echoed back without SDK-only nulls
    assert second["messages"][1]["content"][1] == {"type": "tool_use", "id": "toolu_a", "name": "lookup",
                                                   "input": {"table": "orders"}}
    assert all(r["headers"].get("authorization", "***") == "***" for r in api.requests)
    assert all(r["headers"].get("x-api-key", "***") == "***" for r in api.requests)


def test_streaming_yields_text_deltas_and_the_final_message(tmp_path):
    deltas: list[str] = []
    with StandinAPI(round_trip_script()) as api:
        result = sdk_agent(tmp_path, api.url, stream=True, on_text=deltas.append).run("How big?")
    assert result.subtype == "success" and result.result == "orders is large (1.2M rows); users is small."
    assert len(deltas) > 2 and "".join(deltas) == "Checking both tables.orders is large (1.2M rows); users is small."
    assert all(r["body"]["stream"] is True for r in api.requests)
    assert api.requests[1]["body"]["messages"][1]["content"][2]["input"] == {"table": "users"}


def test_one_overload_is_retried_by_the_sdk_and_the_run_survives(tmp_path):
    with StandinAPI(round_trip_script()) as api:
        api.fail_next(529, times=1, retry_after_ms=10)
        result = sdk_agent(tmp_path, api.url, max_retries=2).run("How big?")
    assert result.subtype == "success"
    assert len(api.requests) == 3  # 529, then the retry, then the second turn
    assert api.requests[1]["headers"]["x-stainless-retry-count"] == "1"


def test_overloaded_on_every_attempt_ends_with_a_clear_error(tmp_path):
    with StandinAPI(round_trip_script()) as api:
        api.fail_next(529, times=3, retry_after_ms=5)
        result = sdk_agent(tmp_path, api.url, max_retries=2).run("How big?")
    assert (result.subtype, result.is_error, result.num_turns) == ("error_api", True, 0)
    assert result.errors == ["the Anthropic API answered 529 overloaded after 2 retries"]


def test_bad_request_is_not_retried_and_names_the_problem(tmp_path):
    with StandinAPI(round_trip_script()) as api:
        api.fail_next(400, message="max_tokens: 99999999 > 64000, which is the maximum allowed")
        result = sdk_agent(tmp_path, api.url, max_retries=2).run("How big?")
    assert len(api.requests) == 1
    assert result.subtype == "error_api"
    assert result.errors == ["the Anthropic API answered 400 invalid_request: "
                             "max_tokens: 99999999 > 64000, which is the maximum allowed"]


def test_standin_rejects_unanswered_tool_calls_like_the_api(tmp_path):
    with StandinAPI([message("x")]) as api:
        client = anthropic.Anthropic(base_url=api.url, api_key=FAKE_KEY, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match="without `tool_result`"):
            client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]},
                {"role": "user", "content": "and?"}])
        count = client.messages.count_tokens(model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}])
        assert count.input_tokens > 0


def test_standin_can_answer_through_a_policy(tmp_path):
    def decide(request):
        last = request["messages"][-1]["content"][0]
        if last["type"] == "text":
            return message(tool_use("lookup", {"table": "orders"}))
        return message(f"Saw: {last['content']}")

    with StandinAPI(decide=decide) as api:
        result = sdk_agent(tmp_path, api.url).run("How big is orders?")
    assert result.result == "Saw: orders: 1,204,331 rows"


def test_standin_reports_a_failing_policy(tmp_path):
    with StandinAPI(decide=lambda request: 1 / 0) as api:
        result = sdk_agent(tmp_path, api.url, max_retries=2).run("How big?")
    assert len(api.requests) == 1  # x-should-retry: false
    assert "stand-in could not answer: ZeroDivisionError" in result.errors[0]


# -- the same traffic from cassettes, server stopped ---------------------------------------

def test_replay_tool_use_round_trip(tmp_path):
    recorded, replayed = record_and_replay(tmp_path, "tool_round_trip", round_trip_script())
    assert (replayed.subtype, replayed.num_turns) == ("success", 2)
    assert replayed.result == "orders is large (1.2M rows); users is small."
    if recorded:
        assert recorded.result == replayed.result and recorded.usage == replayed.usage


def test_replay_streaming(tmp_path):
    deltas: list[str] = []
    _, replayed = record_and_replay(tmp_path, "streaming", round_trip_script(), stream=True, on_text=deltas.append)
    assert replayed.subtype == "success"
    assert "".join(deltas).endswith("orders is large (1.2M rows); users is small.")


def test_replay_overloaded(tmp_path):
    _, replayed = record_and_replay(tmp_path, "overloaded", round_trip_script(),
                                    prepare=lambda api: api.fail_next(529, times=3, retry_after_ms=5), max_retries=2)
    assert (replayed.subtype, replayed.is_error) == ("error_api", True)
    assert replayed.errors == ["the Anthropic API answered 529 overloaded"]  # replayed with no retries


def test_replay_bad_request(tmp_path):
    _, replayed = record_and_replay(tmp_path, "bad_request", round_trip_script(),
                                    prepare=lambda api: api.fail_next(400, message="messages: too long"))
    assert replayed.errors == ["the Anthropic API answered 400 invalid_request: messages: too long"]


def test_replay_a_retried_overload(tmp_path):
    # The cassette holds the 529 and then the success for the same body, so this replay needs
    # one retry; its recorded retry-after-ms keeps it fast.
    cassette = CASSETTES / "overloaded_then_ok.yaml"
    if not cassette.exists():
        with StandinAPI(round_trip_script()) as api, recorder("once").use_cassette(cassette.name):
            api.fail_next(529, times=1, retry_after_ms=10)
            sdk_agent(tmp_path, api.url, max_retries=1).run("How big?")
    with recorder("none").use_cassette(cassette.name):
        result = sdk_agent(tmp_path, NOTHING_LISTENS, max_retries=1).run("How big?")
    assert result.subtype == "success"
    assert FAKE_KEY not in cassette.read_text()


def test_a_request_missing_from_the_cassette_fails_fast(tmp_path):
    with recorder("none").use_cassette("tool_round_trip.yaml"):
        result = sdk_agent(tmp_path, NOTHING_LISTENS).run("A question nobody recorded")
    assert result.subtype == "error_api" and "could not reach the Anthropic API" in result.errors[0]
