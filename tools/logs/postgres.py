"""PostgreSQL server logs: stderr (any common log_line_prefix), csvlog and jsonlog.

What we read (PostgreSQL's own message texts):
- `duration: 1.234 ms  statement: …` (simple protocol, literals inline) and
  `duration: 1.234 ms  execute <name>: …` followed by `DETAIL:  parameters: $1 = '42', …`
  (extended protocol, which Postgrex uses), from log_min_duration_statement;
- `statement: …` / `execute …:` from log_statement, paired with the next bare `duration: … ms`
  of the same backend (log_duration);
- `ERROR:` with its `STATEMENT:` line, as failed queries;
- auto_explain's `duration: … ms  plan:` with a JSON plan (auto_explain.log_format = json),
  handed to the plan model; a text-format plan contributes its `Query Text:`.
`parse`/`bind` durations are phases of the statement whose `execute` follows, so they are not
counted as queries (pgBadger does the same).

The log_line_prefix is not configured anywhere we can read, so a line's prefix is whatever stands
before its severity (`LOG:  `, two spaces); in it we look for a backend id (`[%p]`, `pid=`, or a
`%c` session id) and a clock time. A server log has no requests, so the unit that N+1
detection works in is a burst of one backend's statements: consecutive statements less than a
second apart.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Iterable, Iterator

from tools.logs.ecto import LoggedQuery, Request

SEVERITY = re.compile(r"\b(LOG|ERROR|WARNING|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT|QUERY|NOTICE|INFO|"
                      r"LOCATION|DEBUG[1-5]?):  ")
SECONDARY = frozenset({"DETAIL", "HINT", "STATEMENT", "CONTEXT", "QUERY", "LOCATION"})
LOGGED = re.compile(r"(statement|execute)([^:]*):\s?")
PID = re.compile(r"\[(\d+)\]|\bpid=(\d+)|\b([0-9a-f]{6,8}\.[0-9a-f]{1,8})\b")
CLOCK = re.compile(r"(\d\d):(\d\d):(\d\d(?:\.\d+)?)")
PARAM = re.compile(r"\$(\d+) = (?:'((?:[^']|'')*)'|(NULL))")
BURST_GAP_S = 1.0
MAX_OPEN_UNITS = 10_000
MAX_MESSAGE_LINES = 100_000  # a plan or statement longer than this is cut, not held


def params_json(detail: str | None) -> str | None:
    """`parameters: $1 = '42', $2 = NULL` -> `["42", null]` (as text: values are untyped)."""
    if not detail:
        return None
    at = detail.lower().find("parameters:")
    if at < 0:
        return None
    values: dict[int, str | None] = {}
    for number, text, null in PARAM.findall(detail[at:]):
        values[int(number)] = None if null else text.replace("''", "'")
    if not values:
        return None
    return json.dumps([values.get(i) for i in range(1, max(values) + 1)], ensure_ascii=False)


def _clock(text: str) -> float | None:
    m = CLOCK.search(text)
    if m is None:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


class _Interpreter:
    """Turns server messages into queries (appended to `out`, in log order), pairing log_statement
    lines with their durations and placing each query in its backend's current burst.

    Queries keep the raw `parameters:` text as params (origin "postgres"): converting it costs
    more than the rest of a query's handling, and only the examples a report shows need it.
    """

    def __init__(self, out: list) -> None:
        self.out = out
        # log_statement text awaiting its duration, with the clock and stamp of its line
        self.waiting: dict[str, tuple[LoggedQuery, float | None, str | None]] = {}
        self.open: dict[str, list] = {}  # backend -> [Request, end of its last statement (s)]
        self.keys = 1_000_000_000  # apart from Ecto request keys, should both feed one analysis

    def handle(self, severity: str, text: str, session: str | None, clock: float | None, stamp: str | None,
               number: int, detail: str | None, statement: str | None, context: str | None) -> None:
        if severity == "LOG":
            if text.startswith("duration: "):
                end = text.find(" ms", 10)
                try:
                    ms = float(text[10:end])
                except ValueError:
                    return
                after = end + 3  # what follows `duration: 1.2 ms`, read in place: SQL is long
                if text.startswith("  execute ", after) or text.startswith("  statement: ", after):
                    colon = text.find(": ", after + 9)
                    sql = text[colon + 2:] if colon > 0 else ""
                    if sql[-1:].isspace() or sql[:1].isspace():
                        sql = sql.strip()
                    if not sql:
                        return
                    query = LoggedQuery(sql, detail, "OK", None, ms, line=number, origin="postgres")
                elif not text[after:].strip():
                    waiting = self.waiting.pop(session or "?", None)
                    if waiting is not None:
                        waiting[0].db_ms = ms
                        self.place(waiting[0], session, clock, stamp)
                    return
                elif text.startswith("  plan:", after):
                    query = _plan_query(text[after + 7:], ms, number)
                    if query is not None:
                        # It repeats a statement logged on its own (if durations are logged):
                        # outside the bursts, so it neither splits nor joins one.
                        self.out.append(query)
                    return
                else:
                    return  # parse and bind: phases of the execute that follows
                if self.waiting:
                    self._flush(session)
                self.place(query, session, clock, stamp)
                return
            m = LOGGED.match(text)
            if m is not None:
                self._flush(session)
                sql = text[m.end():].strip()
                if sql:
                    self.waiting[session or "?"] = (LoggedQuery(sql, detail, "OK", None, line=number,
                                                                origin="postgres"), clock, stamp)
            return
        if severity in ("ERROR", "FATAL", "PANIC") and statement:
            params = detail if detail and "arameters:" in detail else context
            query = LoggedQuery(statement.strip(), params, "ERROR", None, line=number, origin="postgres",
                                error=text.strip()[:500])
            self.waiting.pop(session or "?", None)  # the statement logged before it failed
            self.place(query, session, clock, stamp)

    def _flush(self, session: str | None) -> None:
        waiting = self.waiting.pop(session or "?", None)
        if waiting is not None:
            query, clock, stamp = waiting
            self.place(query, session if session != "?" else None, clock, stamp)

    def place(self, query: LoggedQuery, session: str | None, clock: float | None, stamp: str | None) -> None:
        """Bursts of one backend's statements: the unit a server log offers for N+1 detection."""
        session = session or "?"
        unit = self.open.get(session)
        start = clock - query.db_ms / 1000.0 if clock is not None else None  # logged when it ends
        if unit is not None:
            last = unit[1]
            if start is None or last is None or not (-0.01 <= start - last <= BURST_GAP_S):
                if start is not None or last is not None:
                    del self.open[session]
                    self.out.append(unit[0])
                    unit = None
        if unit is None:
            self.keys += 1
            label = f"backend {session}" + (f" at {stamp}" if stamp else "")
            unit = [Request(label=label, line=query.line, key=self.keys, kind="burst"), None]
            if len(self.open) >= MAX_OPEN_UNITS:
                self.out.append(self.open.pop(next(iter(self.open)))[0])
            self.open[session] = unit
        unit[1] = clock
        request = unit[0]
        request.query_count += 1
        query.request, query.request_key, query.session = request.label, request.key, session
        self.out.append(query)

    def close(self) -> None:
        for session in list(self.waiting):
            self._flush(session)
        for request, _ in self.open.values():
            self.out.append(request)
        self.open.clear()


def _plan_query(body: str, ms: float, number: int) -> LoggedQuery | None:
    """auto_explain's entry: the JSON plan through the plan model; text plans give their query."""
    text = body.strip()
    sql, plan = None, None
    if text.startswith("{"):
        from tools.errors import InputError
        from tools.explain.plan import parse_plan

        try:
            plan = parse_plan(text)
            sql = plan.query_text
        except InputError:
            plan = None
            m = re.search(r'"Query Text":\s*"((?:[^"\\]|\\.)*)"', text)
            if m:
                try:
                    sql = json.loads(f'"{m.group(1)}"')
                except ValueError:
                    sql = m.group(1)
    else:
        m = re.match(r"Query Text:\s*(.*?)(?:\n\S|\n\s*\n|\Z)", text, re.S)
        sql = m.group(1) if m else None
    if not sql:
        return None
    return LoggedQuery(sql=sql.strip(), params=None, status="OK", source=None, db_ms=ms, line=number,
                       origin="postgres", plan=plan, kind="plan")


# ---- stderr ---------------------------------------------------------------------------------------

SEVERITIES = frozenset({"LOG", "ERROR", "WARNING", "FATAL", "PANIC", "DETAIL", "HINT", "STATEMENT", "CONTEXT",
                        "QUERY", "NOTICE", "INFO", "LOCATION", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4",
                        "DEBUG5"})


def read_stderr(lines: Iterable[str]) -> Iterator[LoggedQuery | Request]:
    out: list = []
    interp = _Interpreter(out)
    handle = interp.handle
    sessions: dict[str, str | None] = {}  # the prefix after its clock -> backend id
    seconds: dict[str, int] = {}  # `HH:MM:SS` -> seconds since midnight
    severities, secondary = SEVERITIES, SECONDARY
    search = SEVERITY.search
    # The message being read: its severity, lines, DETAIL/STATEMENT/CONTEXT parts, and origin.
    severity = None
    main: list[str] = []
    detail = statement = context = None
    last = main
    count = 0
    session = stamp = None
    clock = None
    number = start_line = 0
    for line in lines:
        number += 1
        if line.endswith("\n"):  # lines from a file object; iter_lines hands them without
            line = line.rstrip("\r\n")
        if line.startswith("\t"):
            if severity is not None and count < MAX_MESSAGE_LINES:
                last.append(line[1:])
                count += 1
            continue
        # `SEVERITY:  ` (two spaces) ends the prefix; a plain find beats a regex search here.
        colon = line.find(":  ")
        sev = None
        if colon > 0:
            at = line.rfind(" ", 0, colon) + 1
            sev = line[at:colon]
            if sev not in severities:
                sev = None
        if sev is None:
            m = search(line)
            if m is None:
                continue  # not a server message (or a line a syslog relay split): skip it
            sev, at, colon = m.group(1), m.start(), m.end() - 3
        body = line[colon + 3:]
        if sev in secondary:
            if severity is not None:
                last = [body]
                if sev == "DETAIL" and detail is None:
                    detail = last
                elif (sev == "STATEMENT" or sev == "QUERY") and statement is None:
                    statement = last
                elif sev == "CONTEXT" and context is None:
                    context = last
            continue
        if severity is not None:
            handle(severity, main[0] if len(main) == 1 else "\n".join(main), session, clock, stamp, start_line,
                   "\n".join(detail) if detail else None, "\n".join(statement) if statement else None,
                   "\n".join(context) if context else None)
            if out:
                yield from out
                out.clear()
        # The clock: %m/%t put `YYYY-MM-DD HH:MM:SS` first (each second's value is kept, as
        # thousands of lines share it); other prefixes are searched.
        if len(line) > 19 and line[13] == ":" and line[16] == ":" and line[4] == "-":
            cut = line.find(" ", 19, at + 1)
            if cut < 0:
                cut = at
            second = seconds.get(line[11:19])
            try:
                if second is None:
                    if len(seconds) > 100_000:
                        seconds.clear()
                    second = seconds[line[11:19]] = int(line[11:13]) * 3600 + int(line[14:16]) * 60 + int(line[17:19])
                clock = second + float(line[19:cut]) if cut > 19 else second
                key, stamp = line[cut:at], line[:cut]
            except ValueError:
                clock, key, stamp = None, line[:at], None
        else:
            prefix = line[:at]
            m = CLOCK.search(prefix)
            if m is not None:
                clock = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
                key, stamp = prefix[m.end():], prefix[:m.end()].strip()
            else:
                clock, key, stamp = None, prefix, None
        if key in sessions:
            session = sessions[key]
        else:
            pid = PID.search(key)
            session = next((g for g in pid.groups() if g), None) if pid else None
            if len(sessions) > 50_000:
                sessions.clear()
            sessions[key] = session
        severity, start_line, count = sev, number, 0
        main = [body]
        last = main
        detail = statement = context = None
    if severity is not None:
        handle(severity, "\n".join(main), session, clock, stamp, start_line,
               "\n".join(detail) if detail else None, "\n".join(statement) if statement else None,
               "\n".join(context) if context else None)
    interp.close()
    yield from out


# ---- csvlog and jsonlog -----------------------------------------------------------------------------

def read_csvlog(lines: Iterable[str]) -> Iterator[LoggedQuery | Request]:
    """csvlog rows: log_time, user, db, pid, client, session_id, line, tag, start, vxid, xid,
    severity, sqlstate, message, detail, hint, internal_query, pos, context, query, …"""
    out: list = []
    interp = _Interpreter(out)
    reader = csv.reader(lines)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            continue  # a malformed row; the reader resumes at the next line
        number += 1
        if len(row) < 14:
            continue
        severity = row[11]
        if severity not in ("LOG", "ERROR", "FATAL", "PANIC"):
            continue
        stamp = row[0]
        interp.handle(severity, row[13], row[5] or row[3] or None, _clock(stamp), stamp or None, number,
                      row[14] or None, (row[19] if len(row) > 19 else "") or None,
                      (row[18] if len(row) > 18 else "") or None)
        if out:
            yield from out
            out.clear()
    interp.close()
    yield from out


def read_jsonlog(lines: Iterable[str]) -> Iterator[LoggedQuery | Request]:
    out: list = []
    interp = _Interpreter(out)
    number = 0
    loads = json.loads
    for line in lines:
        number += 1
        if not line.startswith("{"):
            continue
        try:
            entry = loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        severity = entry.get("error_severity")
        if severity not in ("LOG", "ERROR", "FATAL", "PANIC"):
            continue
        stamp = entry.get("timestamp")
        session = entry.get("session_id") or (str(entry["pid"]) if "pid" in entry else None)
        interp.handle(severity, str(entry.get("message") or ""), session,
                      _clock(stamp) if isinstance(stamp, str) else None, stamp, number,
                      _str(entry.get("detail")), _str(entry.get("statement")), _str(entry.get("context")))
        if out:
            yield from out
            out.clear()
    interp.close()
    yield from out


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
