"""Ecto/Phoenix dev logs: the queries an app really sent, with params, timings and call sites.

Format facts are in shared/reference/ecto-formats.md §1-§5: a `QUERY OK|ERROR` header with
`db= decode= queue= idle=` (values such as `1.2e3ms`), the SQL line with the inspected params
appended, optional `↳` stack lines, and requests delimited by `GET /path` … `Sent 200 in …`
(or LiveView's MOUNT/HANDLE … `Replied in`). The reader streams line by line and never fails
on a line it does not understand: real logs interleave, truncate and mix in other output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from tools.explain.params import split_logged_query

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PREFIX = re.compile(r"^(?:\S+\s+)?(?:request_id=(?P<rid>\S+)\s+)?(?:\S+=\S+\s+)*\[(?P<level>debug|info|warning|warn|error|notice)\]\s?")
HEADER = re.compile(r"QUERY (?P<status>OK|ERROR)(?: source=\"(?P<source>[^\"]*)\")?(?P<times>(?: \w+=[0-9.e]+ms)*)")
TIME = re.compile(r"(db|decode|queue|idle)=([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)ms")
REQUEST_START = re.compile(r"^(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<path>/\S*)")
LIVE_START = re.compile(r"^(?P<what>MOUNT|HANDLE PARAMS in|HANDLE EVENT \"[^\"]*\" in) (?P<view>[\w.]+)")
REQUEST_END = re.compile(r"^(?:Sent|Chunked) (?P<status>\d{3}) in (?P<dur>\S+)|^Replied in (?P<live>\S+)")
STACK = re.compile(r"^\s*↳ (?P<mfa>.+?), at: (?P<file>[^:\s]+):(?P<line>\d+)")


@dataclass
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
    request: str | None = None  # "GET /orders" or a request id
    line: int = 0  # where the header stands in the file

    @property
    def total_ms(self) -> float:
        return self.db_ms + self.decode_ms + self.queue_ms


@dataclass
class Request:
    label: str
    line: int
    status: str | None = None
    duration: str | None = None
    queries: list[LoggedQuery] = field(default_factory=list)


def _message(raw: str) -> tuple[str, str | None, bool]:
    """(message text, request id, whether the line started a new log entry)."""
    line = ANSI.sub("", raw.rstrip("\n"))
    m = PREFIX.match(line)
    if m:
        return line[m.end():], m.group("rid"), True
    return line, None, False


def read_lines(lines: Iterable[str]) -> Iterator[Request | LoggedQuery]:
    """Yields each query as soon as it is complete, and each request when it ends."""
    current: Request | None = None
    by_id: dict[str, Request] = {}
    pending: LoggedQuery | None = None
    expect_sql = False
    for number, raw in enumerate(lines, 1):
        text, rid, new_entry = _message(raw)
        if expect_sql and not new_entry:
            sql, params = split_logged_query(text)
            pending.sql, pending.params = sql.strip(), params
            expect_sql = False
            continue
        if pending is not None and not expect_sql:
            stack = STACK.match(text)
            if stack and not new_entry:
                if pending.call_site is None:
                    pending.call_site = f"{stack['file']}:{stack['line']}"
                    pending.function = stack["mfa"]
                continue
            yield pending
            pending = None
        expect_sql = False
        if header := HEADER.match(text):
            times = dict((k, float(v)) for k, v in TIME.findall(header.group("times") or ""))
            request = by_id.get(rid) if rid else current
            pending = LoggedQuery(sql="", params=None, status=header["status"], source=header["source"],
                                  db_ms=times.get("db", 0.0), decode_ms=times.get("decode", 0.0),
                                  queue_ms=times.get("queue", 0.0), request=request.label if request else rid,
                                  line=number)
            if request is not None:
                request.queries.append(pending)
            expect_sql = True
            continue
        if start := REQUEST_START.match(text) or LIVE_START.match(text):
            label = f"{start['method']} {start['path']}" if "method" in start.re.groupindex else \
                f"{start['what']} {start['view']}"
            current = Request(label=label, line=number)
            if rid:
                by_id[rid] = current
            continue
        if (end := REQUEST_END.match(text)) and current is not None:
            current.status = end["status"]
            current.duration = end["dur"] or end["live"]
            yield current
            current = None
    if pending is not None and pending.sql:
        yield pending
    if current is not None:
        yield current


def read_file(path: str | Path) -> Iterator[Request | LoggedQuery]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield from read_lines(handle)
