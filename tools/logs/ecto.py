"""Ecto/Phoenix dev logs: the queries an app really sent, with params, timings and call sites.

Format facts are in shared/reference/ecto-formats.md §1-§5: a `QUERY OK|ERROR` header with
`db= decode= queue= idle=` (values such as `1.2e3ms`), the SQL line with the inspected params
appended, optional `↳` stack lines, and requests delimited by `GET /path` … `Sent 200 in …`
(or LiveView's MOUNT/HANDLE … `Replied in`), or by `request_id=` metadata when the formatter
prints it. ecto_dev_logger's form (bindings inlined, no params list, possibly several SQL lines)
is read too.

The reader streams line by line and never fails on a line it does not understand: real logs
interleave, truncate and mix in other output. Only a message's first line carries the
formatter's prefix (`[debug]`, a time, metadata); continuation lines (the SQL, the stack) do
not, which is how a message's end is found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from tools.explain.params import split_logged_query
from tools.logs.lines import iter_lines, open_log

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LEVELS = frozenset({"debug", "info", "notice", "warning", "warn", "error", "critical", "alert", "emergency"})
REQUEST_ID = re.compile(r"(?:^|\s)request_id=(\S+)")
HEADER = re.compile(r"QUERY (OK|ERROR)(?: source=\"((?:[^\"\\]|\\.)*)\")?")
REQUEST_START = re.compile(r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|CONNECT|TRACE) (/\S*)$")
LIVE_START = re.compile(r"(MOUNT|HANDLE PARAMS in|HANDLE EVENT \"[^\"]*\" in|HANDLE INFO in) ([\w.]+)")
REQUEST_END = re.compile(r"(?:Sent|Chunked) (\d{3}) in (\S+)|Replied in (\S+)")
TRUNCATED = " (truncated)"
ENTRY_STARTS = ("QUERY OK", "QUERY ERROR", "Sent ", "Chunked ", "Replied in ", "MOUNT ", "HANDLE ",
                "GET /", "POST /", "PUT /", "PATCH /", "DELETE /", "HEAD /", "OPTIONS /", "Processing with ")
MAX_OPEN_REQUESTS = 10_000  # request ids that never see their `Sent` line must not pile up
MAX_FRAMES = 20
MAX_SQL_LINES = 2_000


@dataclass(slots=True)
class LoggedQuery:
    sql: str
    params: str | None  # the inspected list as logged (parse with tools.explain.params)
    status: str  # OK or ERROR
    source: str | None
    db_ms: float = 0.0
    decode_ms: float = 0.0
    queue_ms: float = 0.0
    call_site: str | None = None  # "lib/shop/orders.ex:12"
    function: str | None = None  # "Shop.Orders.list/1"
    request: str | None = None  # "GET /orders", "MOUNT ShopWeb.OrderLive", or a request id
    line: int = 0  # where the header stands in the file
    request_key: int | None = None  # tells apart two requests with the same label
    stack: tuple[str, ...] = ()  # every logged frame as file:line, innermost first
    idle_ms: float = 0.0
    truncated: bool = False  # the logger cut the message: params or call site may be missing
    inlined: bool = False  # ecto_dev_logger: values written into the SQL, no params list
    origin: str = "ecto"  # "ecto", or "postgres" for statements read from a server log
    error: str | None = None  # the server's message, when the log has it
    session: str | None = None  # server logs: the backend (pid or session id)
    plan: object | None = None  # server logs: an auto_explain plan (tools.explain.plan.Plan)
    kind: str = "query"  # "plan" for an auto_explain entry, which repeats a statement already logged

    @property
    def total_ms(self) -> float:
        return self.db_ms + self.decode_ms + self.queue_ms


@dataclass
class Request:
    label: str
    line: int
    status: str | None = None
    duration: str | None = None
    queries: list[LoggedQuery] = field(default_factory=list)  # kept only by read_lines(keep=True)
    key: int = 0
    request_id: str | None = None
    query_count: int = 0
    ended: bool = False  # its end line was seen (else the log stopped or another request cut it)
    kind: str = "request"  # or "outside" (queries between requests), "burst" (a server log's unit)


def split_params(text: str) -> tuple[str, str | None]:
    """`SELECT … WHERE x = $1 [42]` -> (`SELECT … WHERE x = $1`, `[42]`); (text, None) without a list.

    Ecto's SQL has no ` [` of its own (identifiers are double-quoted, values are `$n`), so the
    first ` [` starts the params; only SQL with a string literal, where one could hide, takes
    the slower path that parses each candidate.
    """
    stripped = text.rstrip()
    if not stripped.endswith("]"):
        return stripped, None
    if stripped.endswith(" []") and stripped.count("[") == 1:
        return stripped[:-3].rstrip(), "[]"
    at = stripped.find(" [")
    if at < 0:
        return stripped, None
    head = stripped[:at]
    if "'" not in head and "$1" in head:
        return head.rstrip(), stripped[at + 1:]
    sql, params = split_logged_query(stripped)
    return sql.rstrip(), params


TIMES = frozenset({"db", "decode", "queue", "idle"})


def _ms(value: str) -> float:
    """`12µs`, `1.5s`: units a customised logger might print instead of Ecto's `ms`."""
    for unit, scale in (("µs", 0.001), ("us", 0.001), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    raise ValueError(value)


def _is_prefix(text: str) -> bool:
    """Whether what stands before `[level]` is a formatter prefix (time, date, key=value
    metadata) rather than part of a message that happens to contain `[info] `."""
    return len(text) < 400 and '"' not in text and "'" not in text and text.endswith(" ")


class _Reader:
    """The state machine behind read_lines: one pending query, the open requests."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.keys = 0
        self.current: Request | None = None  # sequential grouping: the request being logged
        self.by_id: dict[str, Request] = {}
        self.outside: Request | None = None  # queries logged between requests
        self.pending: LoggedQuery | None = None
        self.sql_lines: list[str] = []
        self.seen_ids = False
        self.failed: LoggedQuery | None = None  # the last QUERY ERROR, awaiting its exception

    def new_request(self, label: str, line: int, rid: str | None = None) -> Request:
        self.keys += 1
        return Request(label=label, line=line, key=self.keys, request_id=rid)

    def finish_query(self) -> LoggedQuery | None:
        query, self.pending = self.pending, None
        if query is None:
            return None
        lines, self.sql_lines = self.sql_lines, []
        if not lines:
            return None  # a header whose SQL never came: truncated beyond use
        text = lines[0] if len(lines) == 1 else "\n".join(lines)
        if text.endswith(TRUNCATED):
            text = text[: -len(TRUNCATED)]
            query.truncated = True
        sql, params = split_params(text)
        if params is None and not query.truncated and "$1" not in sql:
            query.inlined = not sql.rstrip().endswith("[]")
        query.sql = sql.strip()
        query.params = params
        return query if query.sql else None

    def attach(self, query: LoggedQuery, rid: str | None) -> Request | None:
        """The request a query belongs to; returns a request that this displaced, if any."""
        displaced = None
        request = None
        if rid is not None:
            request = self.by_id.get(rid)
            if request is None:
                request = self.new_request(f"request_id={rid}", query.line, rid)
                displaced = self._open_by_id(rid, request)
        elif self.current is not None:
            request = self.current
        elif self.seen_ids and self.by_id:
            # Parallel preload tasks and other processes log without the request's metadata;
            # the request that started last is the best guess.
            request = next(reversed(self.by_id.values()))
        else:
            if self.outside is None:
                self.outside = self.new_request("outside requests", query.line)
                self.outside.kind = "outside"
            request = self.outside
        query.request = request.label
        query.request_key = request.key
        request.query_count += 1
        if self.keep:
            request.queries.append(query)
        return displaced

    def _open_by_id(self, rid: str, request: Request) -> Request | None:
        self.by_id[rid] = request
        if len(self.by_id) > MAX_OPEN_REQUESTS:
            oldest = next(iter(self.by_id))
            return self.by_id.pop(oldest)
        return None


def read_lines(lines: Iterable[str], *, keep: bool = True) -> Iterator[Request | LoggedQuery]:
    """Yields each query as soon as it is complete, and each request when it ends.

    keep=False leaves Request.queries empty so that memory stays bounded on huge logs; the
    queries carry their request's label and key either way.
    """
    r = _Reader(keep)
    number = 0
    ansi_sub = ANSI.sub
    levels = LEVELS
    entry_starts = ENTRY_STARTS
    for raw in lines:
        number += 1
        if "\x1b" in raw:
            # Ecto wraps every stack line in light black and reset, even in files.
            raw = raw.replace("\x1b[90m", "").replace("\x1b[0m", "")
            if "\x1b" in raw:
                raw = ansi_sub("", raw)
        line = raw[:-1] if raw.endswith("\n") else raw
        # The formatter's prefix marks a new message: `[debug] ` by far the commonest, else a
        # time and metadata before the level. Continuation lines (SQL, stack) carry none.
        rid = None
        close = line.find("] ", 0, 160)
        if close < 0 and line.endswith("]") and len(line) < 160:
            close = len(line) - 1
        if close > 0:
            open_ = line.rfind("[", 0, close)
            if open_ >= 0 and line[open_ + 1:close] in levels and (open_ == 0 or _is_prefix(line[:open_])):
                text, new_entry = line[close + 2:], True
                if open_ and "request_id=" in line[:open_]:
                    found = REQUEST_ID.search(line[:open_])
                    rid = found.group(1) if found else None
            else:
                text, new_entry = line, line.startswith(entry_starts)
        else:
            text, new_entry = line, line.startswith(entry_starts)
        if r.failed is not None and (number - r.failed.line > 200 or "Postgrex.Error) " in text):
            # The exception for a QUERY ERROR is logged apart, after it; its message says why.
            if "Postgrex.Error) " in text:
                r.failed.error = text.split("Postgrex.Error) ", 1)[1].strip()[:500]
            r.failed = None
        if not new_entry:
            if r.pending is not None:
                if r.sql_lines or text.startswith("↳"):
                    at = text.rfind(", at: ")
                    if at > 0:
                        place = text[at + 6:].strip()
                        file, _, number_text = place.rpartition(":")
                        if file and number_text.isdigit():
                            q = r.pending
                            frame = f"{file}:{number_text}"
                            if q.call_site is None:
                                q.call_site, q.function = frame, text[:at].strip().removeprefix("↳ ")
                            if len(q.stack) < MAX_FRAMES:
                                q.stack += (frame,)
                            continue
                if r.pending.call_site is None and len(r.sql_lines) < MAX_SQL_LINES:
                    r.sql_lines.append(text)  # the SQL, and further lines of a multi-line one
            continue
        if r.pending is not None:
            done = r.finish_query()
            if done is not None:
                if done.status == "ERROR":
                    r.failed = done
                yield done
        if text.startswith("QUERY "):
            header = HEADER.match(text)
            if header is None:
                continue
            q = LoggedQuery(sql="", params=None, status=header.group(1), source=header.group(2), line=number)
            rest = text[header.end():]
            if rest:
                for token in rest.split():
                    name, eq, value = token.partition("=")
                    if not eq or name not in TIMES:
                        continue
                    try:
                        ms = float(value[:-2]) if value.endswith("ms") else _ms(value)
                    except ValueError:
                        continue
                    if name == "db":
                        q.db_ms = ms
                    elif name == "decode":
                        q.decode_ms = ms
                    elif name == "queue":
                        q.queue_ms = ms
                    else:
                        q.idle_ms = ms
            if rid is not None:
                r.seen_ids = True
            displaced = r.attach(q, rid)
            if displaced is not None:
                yield displaced
            r.pending = q
            continue
        first = text[:1]
        if first in "GPDHOCT" and (start := REQUEST_START.match(text)) is not None:
            yield from _start(r, f"{start.group(1)} {start.group(2)}", number, rid)
            continue
        if first in "MH" and (live := LIVE_START.match(text)) is not None:
            what = live.group(1).removesuffix(" in")
            yield from _start(r, f"{what} {live.group(2)}", number, rid)
            continue
        if first in "SCR" and (end_m := REQUEST_END.match(text)) is not None:
            request = r.by_id.pop(rid, None) if rid is not None else None
            if request is None and r.current is not None:
                request, r.current = r.current, None
            if request is not None:
                request.status = end_m.group(1)
                request.duration = end_m.group(2) or end_m.group(3)
                request.ended = True
                yield request
    if r.pending is not None:
        done = r.finish_query()
        if done is not None:
            yield done
    if r.current is not None:
        yield r.current
    yield from r.by_id.values()
    if r.outside is not None:
        yield r.outside


def _start(r: _Reader, label: str, number: int, rid: str | None) -> Iterator[Request]:
    if r.outside is not None:
        yield r.outside  # the queries between two requests form one unit of their own
        r.outside = None
    if rid is not None:
        r.seen_ids = True
        request = r.new_request(label, number, rid)
        previous = r.by_id.pop(rid, None)
        if previous is not None:
            yield previous
        displaced = r._open_by_id(rid, request)
        if displaced is not None:
            yield displaced
        return
    if r.current is not None:
        # Without request ids, overlapping requests cannot be told apart: the earlier one ends
        # here rather than absorbing the next one's queries.
        yield r.current
    r.current = r.new_request(label, number)


def read_file(path: str | Path, *, keep: bool = True) -> Iterator[Request | LoggedQuery]:
    with open_log(path) as handle:
        yield from read_lines(iter_lines(handle), keep=keep)
