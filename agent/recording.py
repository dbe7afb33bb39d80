"""Recording the Messages API traffic of a run with vcrpy, and replaying it with no network.

Secrets never reach a cassette: x-api-key and authorization are filtered, and so are the
headers that change with the machine or the SDK version, so a re-recorded cassette is
identical to the committed one. Requests match on method, path and the conversation's length
(`turn`): a replay gets the recorded responses in order while the tool results, which carry
fresh timings from a real database, are free to differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import vcr

SECRET_HEADERS = ["x-api-key", "authorization"]
VOLATILE_HEADERS = ["host", "user-agent", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime",
                    "x-stainless-runtime-version", "x-stainless-package-version", "x-stainless-retry-count",
                    "x-stainless-read-timeout", "x-stainless-timeout"]
NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port: a replay that needs a server fails at once


def _stable_request(request):
    request.uri = "http://api.invalid" + urlsplit(request.uri).path
    return request


def _stable_response(response):
    for name in ("date", "Date", "server", "Server"):
        response["headers"].pop(name, None)
    return response


def _turn(request) -> int | None:
    try:
        return len(json.loads(request.body or b"{}").get("messages", []))
    except (ValueError, AttributeError):
        return None


def _same_turn(r1, r2) -> None:
    assert _turn(r1) == _turn(r2), f"turn {_turn(r1)} != {_turn(r2)}"


def recorder(cassette_dir: Path, mode: str, match_on: tuple[str, ...] = ("method", "path", "turn")) -> vcr.VCR:
    """mode: "all" to (re)record, "none" to replay only, "once" to record when missing."""
    recorder = vcr.VCR(cassette_library_dir=str(cassette_dir), record_mode=mode,
                       filter_headers=[*SECRET_HEADERS, *VOLATILE_HEADERS],
                       before_record_request=_stable_request, before_record_response=_stable_response,
                       match_on=list(match_on), decode_compressed_response=True)
    recorder.register_matcher("turn", _same_turn)
    return recorder
