"""The agent loop: ask the model, run the tools it asked for, answer them all in one message,
repeat until the model stops or a limit does.

The model is a seam (`Model.query`): the Anthropic SDK, a scripted list in tests, or later an
offline policy. Responses are dicts in the Messages API shape. Every way out of the loop is an
exception carrying the result's subtype, so all exits meet in `run`, which writes the result.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from typing import Any, Callable, Iterable, Protocol

from pydantic import BaseModel, Field

from agent.pricing import cost as price
from tools.base import Tool, ToolContext
from tools.errors import InputError
from tools.redact import redact_text, url_password

EPHEMERAL = {"type": "ephemeral"}
DEFAULT_MAX_TOOL_OUTPUT = 30_000
CONTINUE_AFTER_MAX_TOKENS = (
    "Your reply was cut off by the output token limit. Continue from where it stopped, more briefly. "
    "If you were calling a tool, call it again with a smaller input."
)


class Model(Protocol):
    model_id: str

    def query(self, system: list[dict], messages: list[dict], tools: list[dict]) -> dict[str, Any]:
        """One Messages API call: returns the response as a dict (content, stop_reason, usage)."""
        ...


class ModelError(Exception):
    """The model could not answer (the API failed after its retries); the message is one line."""


class AgentStop(Exception):
    """Ends the loop; `subtype` and `reason` go into the result."""

    subtype = "error_during_execution"

    def __init__(self, reason: str = "", subtype: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if subtype:
            self.subtype = subtype


class Finished(AgentStop):
    subtype = "success"


class LimitsExceeded(AgentStop):
    pass


class Limits(BaseModel):
    """Turns and wall time count per `run` call (per message in chat); cost is for the session."""

    max_turns: int = 40
    max_cost_usd: float = 5.0
    max_seconds: float = 30 * 60


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def add(self, usage: dict[str, Any]) -> None:
        for key in type(self).model_fields:
            setattr(self, key, getattr(self, key) + int(usage.get(key) or 0))


class RunResult(BaseModel):
    type: str = "result"
    subtype: str
    is_error: bool
    result: str
    stop_reason: str | None = None
    errors: list[str] = Field(default_factory=list)
    num_turns: int
    duration_ms: int
    usage: Usage
    total_cost_usd: float
    cost_known: bool = True  # False when the model has no price in agent/pricing.py
    model: str
    session_id: str
    transcript: str | None = None


def cut_output(text: str, limit: int = DEFAULT_MAX_TOOL_OUTPUT) -> str:
    """Keep the head and the tail of a long output; the model must see that a cut happened."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[… {cut:,} characters cut …]\n{text[-tail:]}"


def render_system(template: str, tools: Iterable[Tool]) -> str:
    """Fill `{tools}` in the system prompt with one line per tool (str.replace: the prompt holds Elixir braces)."""
    lines = []
    for tool in tools:
        summary = next((ln.strip().lstrip("#").strip() for ln in tool.description.splitlines() if ln.strip()), "")
        lines.append(f"- **{tool.name}**: {summary}")
    return template.replace("{tools}", "\n".join(lines) or "(no tools in this session)")


def system_prompt(tools: Iterable[Tool]) -> str:
    from prompts import load

    return render_system(load("system"), tools)


def _text_of(content: list[dict]) -> str:
    return "\n".join(b.get("text", "") for b in content if b.get("type") == "text").strip()


class Agent:
    def __init__(self, model: Model, tools: list[Tool], ctx: ToolContext, *, system: str = "",
                 limits: Limits | None = None, secrets: Iterable[str | None] = (), transcript: Any = None,
                 on_event: Callable[[dict], None] | None = None, session_id: str | None = None,
                 max_tool_output: int = DEFAULT_MAX_TOOL_OUTPUT) -> None:
        self.model, self.ctx, self.system = model, ctx, system
        self.tools = {t.name: t for t in tools}
        self.tool_defs = [t.definition() for t in tools]
        self.limits = limits or Limits()
        self.secrets = [s for s in [*secrets, url_password(ctx.database_url)] if s]
        self.transcript, self.on_event = transcript, on_event
        self.session_id = session_id or str(uuid.uuid4())
        self.max_tool_output = max_tool_output
        self.messages: list[dict] = []
        self.usage, self.cost_usd, self.cost_known, self.num_turns = Usage(), 0.0, True, 0
        self.started = time.monotonic()
        self._header_written = False
        self._new_exchange()

    def _new_exchange(self) -> None:
        self._exchange_started, self._exchange_turns = time.monotonic(), 0
        self._texts: list[str] = []
        self._max_tokens_hits, self._last_stop = 0, None

    # -- the loop ---------------------------------------------------------------------------

    def run(self, task: str) -> RunResult:
        """Work on `task` (appended to the conversation) until the model finishes or a limit hits."""
        self._new_exchange()
        if not self._header_written:
            self._emit({"type": "header", "session_id": self.session_id, "model": self.model.model_id, "task": task,
                        "limits": self.limits.model_dump(), "tools": list(self.tools),
                        "project": str(self.ctx.project_root)})
            self._header_written = True
        else:
            self._emit({"type": "user", "text": task})
        self._add_user([{"type": "text", "text": redact_text(task, self.secrets)}])
        try:
            while True:
                self.step()
        except AgentStop as stop:
            return self._finish(stop)
        except ModelError as exc:
            return self._finish(AgentStop(str(exc), "error_api"))
        except KeyboardInterrupt:
            return self._finish(AgentStop("interrupted by the user", "error_interrupted"))
        except Exception as exc:  # a bug in the loop or a model adapter: end with a result, not a traceback
            return self._finish(AgentStop(f"{type(exc).__name__}: {exc}", "error_during_execution"))

    def step(self) -> None:
        self._check_limits()
        response = self.model.query(self._request_system(), self._request_messages(), self._request_tools())
        content = [b for b in response.get("content") or [] if isinstance(b, dict)]
        stop = self._last_stop = response.get("stop_reason")
        self._account(response, content)

        if stop in ("end_turn", "stop_sequence"):  # stop_sequence: a stop string the caller set was met
            self._add_assistant(content)
            raise Finished()
        if stop == "tool_use":
            self._max_tokens_hits = 0
            self._add_assistant(content)
            calls = [b for b in content if b.get("type") == "tool_use"]
            if not calls:  # nothing to answer; an empty user turn would be rejected by the API
                raise Finished()
            self._add_user([self._run_tool(b) for b in calls])
        elif stop == "pause_turn":  # a long server-side turn: hand it back as-is and the model resumes
            self._add_assistant(content)
        elif stop == "max_tokens":
            self._max_tokens_hits += 1
            self._add_assistant(content)
            if self._max_tokens_hits > 1:
                raise AgentStop("the reply hit the output token limit twice in a row", "error_max_tokens")
            unanswered = [self._not_run(b, "not run: the tool call was cut off by the output token limit")
                          for b in content if b.get("type") == "tool_use"]
            self._add_user([*unanswered, {"type": "text", "text": CONTINUE_AFTER_MAX_TOKENS}])
        elif stop == "refusal":
            # The refused turn stays out of the history, so a chat can go on from before it.
            details = response.get("stop_details")
            details = details if isinstance(details, dict) else {}
            reason = details.get("explanation") or details.get("category")
            raise AgentStop(f"the model declined to continue (refusal){': ' + reason if reason else ''}",
                            "error_refusal")
        elif stop == "model_context_window_exceeded":
            self._add_assistant(content)
            raise AgentStop("the conversation no longer fits in the model's context window", "error_context_window")
        else:
            raise AgentStop(f"the model stopped for an unknown reason: {stop!r}", "error_during_execution")

    def reset(self) -> None:
        """Forget the conversation (chat's /reset); usage and cost keep counting."""
        self.messages = []
        self._emit({"type": "reset"})

    def close(self) -> None:
        if self.transcript is not None:
            self.transcript.close()

    # -- limits and accounting ---------------------------------------------------------------

    def _check_limits(self) -> None:
        limits = self.limits
        if self._exchange_turns >= limits.max_turns:
            raise LimitsExceeded(f"stopped after {self._exchange_turns} turns (the limit is {limits.max_turns})",
                                 "error_max_turns")
        if self.cost_usd >= limits.max_cost_usd:
            raise LimitsExceeded(f"stopped at ${self.cost_usd:.4f} (the budget is ${limits.max_cost_usd:.2f})",
                                 "error_max_cost")
        elapsed = time.monotonic() - self._exchange_started
        if elapsed >= limits.max_seconds:
            raise LimitsExceeded(f"stopped after {elapsed:.0f} s (the limit is {limits.max_seconds:.0f} s)",
                                 "error_wall_time")

    def _account(self, response: dict, content: list[dict]) -> None:
        self.num_turns += 1
        self._exchange_turns += 1
        usage = response.get("usage") or {}
        self.usage.add(usage)
        spent = price(response.get("model") or self.model.model_id, usage)
        self.cost_usd += spent.usd
        self.cost_known &= spent.known
        if text := _text_of(content):
            self._texts.append(text)
        self._emit({"type": "response", "turn": self.num_turns, "id": response.get("id"),
                    "stop_reason": response.get("stop_reason"), "usage": usage, "cost_usd": spent.usd,
                    "content": content})

    # -- tools -------------------------------------------------------------------------------

    def _run_tool(self, block: dict) -> dict:
        name, params = block.get("name"), block.get("input")
        if self.on_event:
            self.on_event({"type": "tool_start", "id": block.get("id"), "name": name, "input": params})
        started = time.monotonic()
        trace = None
        try:
            tool = self.tools.get(name)
            if tool is None:
                raise InputError(f"no tool named {name!r}; the tools are: {', '.join(self.tools) or 'none'}")
            if not isinstance(params, dict):
                raise InputError("the tool input must be a JSON object")
            output, is_error = tool.run(params, self.ctx), False
        except InputError as exc:  # ToolError included: a failure the model should read and work around
            output, is_error = str(exc) or type(exc).__name__, True
        except Exception as exc:  # a crashing tool must not end the run: the model can try another way
            output, is_error = f"the tool crashed: {type(exc).__name__}: {exc}", True
            trace = traceback.format_exc(limit=8)
        if not isinstance(output, str):
            output = json.dumps(output, default=str)
        full_length = len(output)
        output = cut_output(redact_text(output, self.secrets), self.max_tool_output) or "(no output)"
        event = {"type": "tool", "id": block.get("id"), "name": name, "input": params, "output": output,
                 "output_chars": full_length, "is_error": is_error,
                 "duration_ms": int((time.monotonic() - started) * 1000)}
        if trace:
            event["traceback"] = trace
        self._emit(event)
        result = {"type": "tool_result", "tool_use_id": block.get("id"), "content": output}
        if is_error:
            result["is_error"] = True
        return result

    @staticmethod
    def _not_run(block: dict, why: str) -> dict:
        return {"type": "tool_result", "tool_use_id": block.get("id"), "content": why, "is_error": True}

    # -- history and requests ----------------------------------------------------------------

    def _add_assistant(self, content: list[dict]) -> None:
        if content:  # the API rejects an empty assistant turn
            self.messages.append({"role": "assistant", "content": content})

    def _add_user(self, blocks: list[dict]) -> None:
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)  # e.g. a chat message after a run cut short
        else:
            self.messages.append({"role": "user", "content": blocks})

    def _request_system(self) -> list[dict]:
        return [{"type": "text", "text": self.system, "cache_control": EPHEMERAL}] if self.system else []

    def _request_tools(self) -> list[dict]:
        tools = [dict(d) for d in self.tool_defs]
        if tools:
            tools[-1]["cache_control"] = EPHEMERAL
        return tools

    def _request_messages(self) -> list[dict]:
        """The history with one cache breakpoint on the newest block; copies, so breakpoints never pile up."""
        messages = [{"role": m["role"], "content": list(m["content"])} for m in self.messages]
        if messages:
            blocks = messages[-1]["content"]
            for i in range(len(blocks) - 1, -1, -1):
                if blocks[i].get("type") not in ("thinking", "redacted_thinking"):
                    blocks[i] = {**blocks[i], "cache_control": EPHEMERAL}
                    break
        return messages

    # -- the end -----------------------------------------------------------------------------

    def _finish(self, stop: AgentStop) -> RunResult:
        # A run cut short may leave tool calls unanswered; answer them so the history stays valid.
        if self.messages and self.messages[-1]["role"] == "assistant":
            pending = [b for b in self.messages[-1]["content"] if b.get("type") == "tool_use"]
            if pending:
                self._add_user([self._not_run(b, f"not run: {stop.reason or stop.subtype}") for b in pending])
        is_error = not isinstance(stop, Finished)
        text = self._texts[-1] if self._texts else ""  # on an early stop, the latest text is the partial result
        result = RunResult(
            subtype=stop.subtype, is_error=is_error, result=redact_text(text, self.secrets),
            stop_reason=self._last_stop,
            errors=[redact_text(stop.reason, self.secrets)] if is_error and stop.reason else [],
            num_turns=self.num_turns, duration_ms=int((time.monotonic() - self.started) * 1000),
            usage=self.usage.model_copy(), total_cost_usd=round(self.cost_usd, 6), cost_known=self.cost_known,
            model=self.model.model_id, session_id=self.session_id,
            transcript=str(self.transcript.path) if self.transcript is not None else None)
        self._emit(result.model_dump(mode="json"))
        return result

    def _emit(self, event: dict) -> None:
        if self.transcript is not None:
            self.transcript.write(event)
        if self.on_event:
            self.on_event(event)
