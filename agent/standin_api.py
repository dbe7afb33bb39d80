"""A local stand-in for the Anthropic Messages API, so the real SDK path runs without the network.

It answers `POST /v1/messages` (JSON, or SSE when `"stream": true`) from a scripted list or a
`decide(request) -> response` callable, can fail the next N requests with a given status, and
records what it received (keys masked). Ids are counters, so the same requests always get the
same responses: recorded cassettes stay stable.

    with StandinAPI([message(tool_use("Read", {...})), message("done")]) as api:
        client = anthropic.Anthropic(base_url=api.url, api_key="test")
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from agent.models import as_message

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}
ERROR_MESSAGES = {529: "Overloaded", 429: "Rate limited", 500: "Internal server error"}
SECRET_HEADERS = {"x-api-key", "authorization"}


def estimate_tokens(value: Any) -> int:
    """A stable stand-in for token counts: about four characters a token."""
    return max(1, len(json.dumps(value, sort_keys=True)) // 4)


def check_request(body: Any) -> str | None:
    """The few request rules the real API enforces that a loop most easily breaks."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            return f"{field}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: must be a positive integer"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if messages[0].get("role") != "user":
        return "messages: first message must use the \"user\" role"
    for i, msg in enumerate(messages):
        content = msg.get("content")
        blocks = content if isinstance(content, list) else []
        if msg.get("role") == "assistant" and not content:
            return f"messages.{i}: all messages must have non-empty content"
        ids = [b.get("id") for b in blocks if b.get("type") == "tool_use"]
        if ids:
            following = messages[i + 1]["content"] if i + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in following if isinstance(b, dict) and b.get("type") == "tool_result"}
            missing = [x for x in ids if x not in answered]
            if missing:
                return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                        f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` "
                        f"block in the next message.")
    marks = json.dumps([body.get("system"), body.get("tools"), messages]).count('"cache_control"')
    if marks > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {marks}."
    return None


def _text_chunks(text: str) -> list[str]:
    words = re.findall(r"\S+\s*|\s+", text)
    return ["".join(words[i:i + 3]) for i in range(0, len(words), 3)] or [""]


def sse_events(msg: dict) -> Iterator[tuple[str, dict]]:
    """The event sequence the API streams for a finished message."""
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**msg["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    for i, block in enumerate(msg["content"]):
        kind = block.get("type")
        if kind == "text":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "text", "text": ""}}
            deltas = [{"type": "text_delta", "text": chunk} for chunk in _text_chunks(block["text"])]
        elif kind == "tool_use":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {**block, "input": {}}}
            raw = json.dumps(block.get("input") or {})
            deltas = [{"type": "input_json_delta", "partial_json": raw[j:j + 24]} for j in range(0, len(raw), 24)]
        else:
            yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": block}
            deltas = []
        if i == 0:
            yield "ping", {"type": "ping"}
        for delta in deltas:
            yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": msg.get("stop_sequence")},
                            "usage": {"output_tokens": msg["usage"]["output_tokens"]}}
    yield "message_stop", {"type": "message_stop"}


class StandinAPI:
    def __init__(self, responses: Iterable[Any] = (), decide: Callable[[dict], Any] | None = None,
                 host: str = "127.0.0.1") -> None:
        self.script = deque(responses)
        self.decide = decide
        self.host = host
        self.requests: list[dict] = []  # {"method", "path", "headers", "body"}, keys masked
        self.answered = 0
        self._failures: deque[dict] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "the stand-in is not running"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def fail_next(self, status: int = 529, times: int = 1, *, message: str | None = None,
                  error_type: str | None = None, retry_after_ms: int | None = None) -> None:
        """Answer the next `times` requests with an API error (retry-after-ms keeps SDK retries fast)."""
        failure = {"status": status, "type": error_type or ERROR_TYPES.get(status, "api_error"),
                   "message": message or ERROR_MESSAGES.get(status, "Error"), "retry_after_ms": retry_after_ms}
        with self._lock:
            self._failures.extend(dict(failure) for _ in range(times))

    def start(self) -> "StandinAPI":
        self._server = ThreadingHTTPServer((self.host, 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll keeps stop() quick: shutdown() waits for the serving loop's next poll.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="standin-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> "StandinAPI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering -------------------------------------------------------------------------------

    def _record(self, method: str, path: str, headers: dict, body: Any) -> int:
        masked = {k.lower(): ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": masked, "body": body})
            return len(self.requests)

    def _next_failure(self) -> dict | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _respond(self, body: dict) -> dict:
        """The next message for a valid request: from `decide`, else from the script."""
        if self.decide is not None:
            entry = self.decide(body)
        else:
            with self._lock:
                if not self.script:
                    raise LookupError("the stand-in has no scripted response left")
                entry = self.script.popleft()
        with self._lock:
            self.answered += 1
            index = self.answered
        msg = as_message(entry, index, body.get("model") or "claude-sonnet-4-6")
        msg["id"] = f"msg_standin_{index:04d}"
        if "usage" not in (entry if isinstance(entry, dict) else {}):
            prompt = [body.get("system"), body.get("tools"), body.get("messages")]
            msg["usage"] = {"input_tokens": estimate_tokens(prompt), "output_tokens": estimate_tokens(msg["content"]),
                            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        return msg


def _handler_for(api: StandinAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "standin-api"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None
            number = api._record("POST", path, dict(self.headers.items()), body)
            self.request_id = f"req_standin_{number:04d}"

            if path == "/v1/messages/count_tokens":
                problem = None if isinstance(body, dict) and body.get("messages") else "messages: Field required"
                if problem:
                    return self._error(400, "invalid_request_error", problem)
                prompt = [body.get("system"), body.get("tools"), body.get("messages")]
                return self._json(200, {"input_tokens": estimate_tokens(prompt)})
            if path != "/v1/messages":
                return self._error(404, "not_found_error", f"Not found: {path}")
            failure = api._next_failure()
            if failure:
                return self._error(failure["status"], failure["type"], failure["message"], failure["retry_after_ms"])
            problem = check_request(body)
            if problem:
                return self._error(400, "invalid_request_error", problem)
            try:
                msg = api._respond(body)
            except Exception as exc:  # an empty script or a failing decide(): the test should see why
                return self._error(500, "api_error", f"stand-in could not answer: {type(exc).__name__}: {exc}",
                                   should_retry=False)
            if body.get("stream"):
                return self._sse(msg)
            return self._json(200, msg)

        def do_GET(self) -> None:
            self._error(405, "invalid_request_error", "Method not allowed")

        def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", self.request_id)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, kind: str, message: str, retry_after_ms: int | None = None,
                   should_retry: bool | None = None) -> None:
            headers = {}
            if retry_after_ms is not None:
                headers["retry-after-ms"] = str(retry_after_ms)
            if should_retry is not None:
                headers["x-should-retry"] = "true" if should_retry else "false"
            payload = {"type": "error", "error": {"type": kind, "message": message}, "request_id": self.request_id}
            self._json(status, payload, headers)

        def _sse(self, msg: dict) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("request-id", self.request_id)
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            for event, data in sse_events(msg):
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

    return Handler
