"""Models behind the loop's `Model.query` seam: the Anthropic SDK, and a scripted list for tests.

Both return the response as a plain dict in the Messages API shape, so the loop, the
transcript and the stand-in server all speak one format.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Callable, Iterable

from agent.loop import ModelError

# Current and not deprecated in anthropic 2.14.0. claude-sonnet-5-5 is newer, but it returns the
# text between tool calls as thinking blocks, which chat's streamed display would not show.
DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 16_000  # under the SDK's 10-minute estimate for non-streaming requests


# -- building responses (tests, the stand-in server) ------------------------------------------

def text(value: str) -> dict:
    return {"type": "text", "text": value}


def tool_use(name: str, input: dict | None = None, id: str | None = None) -> dict:
    block = {"type": "tool_use", "name": name, "input": dict(input or {})}
    if id:
        block["id"] = id
    return block


def message(*blocks: dict | str, stop_reason: str | None = None, usage: dict | None = None,
            **fields: Any) -> dict:
    """A response in Message shape; stop_reason defaults to tool_use when a tool is called."""
    content = [text(b) if isinstance(b, str) else b for b in blocks]
    if stop_reason is None:
        stop_reason = "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
    msg = {"type": "message", "role": "assistant", "content": content, "stop_reason": stop_reason}
    if usage is not None:
        msg["usage"] = usage
    msg.update(fields)
    return msg


def as_message(entry: Any, index: int, model: str = DEFAULT_MODEL) -> dict:
    """A full, deterministic Message dict from a script entry: a message, a block, a list of blocks or a str."""
    if isinstance(entry, str):
        entry = message(entry)
    elif isinstance(entry, list):
        entry = message(*entry)
    elif isinstance(entry, dict) and "content" not in entry:
        entry = message(entry)
    msg = copy.deepcopy(entry)
    msg.setdefault("id", f"msg_{index:04d}")
    msg.setdefault("type", "message")
    msg.setdefault("role", "assistant")
    msg.setdefault("model", model)
    msg.setdefault("stop_sequence", None)
    msg.setdefault("usage", {"input_tokens": 100, "output_tokens": 20})
    for usage_key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        msg["usage"].setdefault(usage_key, 0)
    for i, block in enumerate(msg["content"]):
        if block.get("type") == "tool_use":
            block.setdefault("id", f"toolu_{index:04d}_{i}")
    return msg


class ScriptedModel:
    """Answers from a fixed list, in order; an Exception in the list is raised at its turn."""

    def __init__(self, responses: Iterable[Any], model_id: str = "scripted") -> None:
        self.responses = list(responses)
        self.model_id = model_id
        self.calls: list[dict] = []  # what the loop sent, deep-copied, for assertions

    def query(self, system: list[dict], messages: list[dict], tools: list[dict]) -> dict:
        self.calls.append(copy.deepcopy({"system": system, "messages": messages, "tools": tools}))
        index = len(self.calls)
        if index > len(self.responses):
            raise RuntimeError(f"ScriptedModel ran out of responses after {len(self.responses)}")
        entry = self.responses[index - 1]
        if isinstance(entry, BaseException):
            raise entry
        return as_message(entry, index, self.model_id)


# -- the Anthropic API ------------------------------------------------------------------------

def describe_api_error(exc: Exception) -> str:
    """One line for a failed API call: status, error type, retries taken, the API's message."""
    import anthropic

    request = getattr(exc, "request", None)
    try:
        retries = int(request.headers.get("x-stainless-retry-count", 0)) if request is not None else 0
    except (TypeError, ValueError):
        retries = 0
    after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        kind = str(error.get("type") or "error").removesuffix("_error")
        detail = " ".join(str(error.get("message") or "").split())
        line = f"the Anthropic API answered {exc.status_code} {kind}{after}"
        return f"{line}: {detail}" if detail and detail.lower() != kind.lower() else line
    if isinstance(exc, anthropic.APITimeoutError):
        return f"the Anthropic API did not answer in time{after}"
    return f"could not reach the Anthropic API{after}: {' '.join(str(exc).split())}"


class AnthropicModel:
    """Claude through the official SDK. ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN and
    ANTHROPIC_BASE_URL are read by the SDK itself; retries and backoff are the SDK's."""

    def __init__(self, model: str | None = None, *, max_tokens: int = DEFAULT_MAX_TOKENS, max_retries: int = 2,
                 stream: bool = False, on_text: Callable[[str], None] | None = None, client: Any = None,
                 **client_options: Any) -> None:
        import anthropic

        self.model_id = model or os.environ.get("ECTO_OPTIMIZER_MODEL") or DEFAULT_MODEL
        self.max_tokens = max_tokens
        self.stream = stream
        self.on_text = on_text
        self.client = client or anthropic.Anthropic(max_retries=max_retries, **client_options)

    def query(self, system: list[dict], messages: list[dict], tools: list[dict]) -> dict:
        import anthropic

        request: dict[str, Any] = {"model": self.model_id, "max_tokens": self.max_tokens, "messages": messages}
        if system:
            request["system"] = system
        if tools:
            request["tools"] = tools
        try:
            if self.stream:
                with self.client.messages.stream(**request) as stream:
                    for delta in stream.text_stream:
                        if self.on_text:
                            self.on_text(delta)
                    response = stream.get_final_message()
            else:
                response = self.client.messages.create(**request)
        except anthropic.APIError as exc:
            raise ModelError(describe_api_error(exc)) from exc
        # exclude_none: the SDK's optional fields (citations, caller, ...) must not be echoed back as null.
        return response.to_dict(mode="json", exclude_none=True)
