"""What logs say about the database: queries grouped by fingerprint, ranked by total time, and
findings (N+1s, slow queries, failed queries), from Ecto/Phoenix dev logs and PostgreSQL logs.

Everything streams: the readers yield queries as they complete and requests as they end, and
the analysis keeps per-fingerprint aggregates and the tallies of open requests only, so memory
depends on how many distinct queries and open requests a log has, not on its length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import BaseModel, Field

from tools.errors import InputError
from tools.logs.ecto import LoggedQuery, Request
from tools.logs.fingerprint import Fingerprinter, FingerprintStats
from tools.logs.nplusone import MIN_COUNT, MIN_MS, Detector

N_PLUS_ONE_MIN_COUNT = MIN_COUNT
N_PLUS_ONE_MIN_MS = MIN_MS
SLOW_MS = 100.0
SNIFF_LINES = 400


class QueryGroup(BaseModel):
    fingerprint: str = ""
    sql: str
    calls: int
    total_ms: float
    mean_ms: float
    p95_ms: float = 0.0
    max_ms: float
    params: str | None  # those of the slowest call: the one worth explaining
    call_sites: list[str] = Field(default_factory=list)
    errors: int = 0
    variants: int = 1  # distinct SQL texts with this fingerprint
    plan: dict[str, Any] | None = None  # the slowest auto_explain plan's summary, when the log has one


class Finding(BaseModel):
    kind: str  # "n_plus_one", "slow_query" or "query_error"
    call_site: str | None
    request: str | None
    count: int
    total_ms: float
    sql: str
    params: str | None
    fix: str


class LogSummary(BaseModel):
    files: list[str]
    formats: list[str] = Field(default_factory=list)
    requests: int
    queries: int
    groups: list[QueryGroup]
    findings: list[Finding]

    def cli_json(self) -> dict[str, Any]:
        """The shape `ecto-optimizer logs --json` prints."""
        return {"requests": self.requests, "queries": self.queries,
                "fingerprints": [g.model_dump() for g in self.groups],
                "findings": [f.model_dump() for f in self.findings]}


# ---- reading ------------------------------------------------------------------------------------

def detect_format(sample: list[str]) -> str:
    """"ecto", "stderr", "csvlog" or "jsonlog", from the first lines of a file."""
    import re

    from tools.logs.ecto import ANSI

    ecto = postgres = csvlog = jsonlog = 0
    csv_row = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z+\-0-9]+)?,(?:"[^"]*"|[^,]*),')
    elixir = re.compile(r"^(?:\S+ ){0,6}\[(?:debug|info|notice|warning|warn|error)\] ")
    for line in sample:
        line = ANSI.sub("", line) if "\x1b" in line else line
        if "QUERY OK" in line or "QUERY ERROR" in line or elixir.match(line):
            ecto += 1
        elif line.startswith("{") and '"error_severity"' in line:
            jsonlog += 1
        elif csv_row.match(line):
            csvlog += 1
        elif "LOG:  " in line or "ERROR:  " in line or "STATEMENT:  " in line or "DETAIL:  " in line:
            postgres += 1
    best = max((ecto, "ecto"), (postgres, "stderr"), (csvlog, "csvlog"), (jsonlog, "jsonlog"))
    return best[1] if best[0] else "ecto"


def read_any(path: str | Path, fmt: str | None = None) -> tuple[str, Iterator[LoggedQuery | Request]]:
    """(format, events) for one log file; the format is sniffed from its first lines unless given."""
    from tools.logs.lines import iter_lines, open_log

    if fmt is None:
        fmt = sniff(path)
    reader = reader_for(fmt)

    def events() -> Iterator[LoggedQuery | Request]:
        with open_log(path) as handle:
            yield from reader(iter_lines(handle, keep_ends=fmt == "csvlog"))

    return fmt, events()


def sniff(path: str | Path) -> str:
    from tools.logs.lines import iter_lines, open_log

    with open_log(path) as handle:
        sample = []
        for line in iter_lines(handle):
            if line.strip():
                sample.append(line)
            if len(sample) >= SNIFF_LINES:
                break
    return detect_format(sample)


def reader_for(fmt: str):
    from tools.logs.ecto import read_lines
    from tools.logs.postgres import read_csvlog, read_jsonlog, read_stderr

    readers = {"ecto": lambda lines: read_lines(lines, keep=False), "stderr": read_stderr,
               "csvlog": read_csvlog, "jsonlog": read_jsonlog}
    if fmt not in readers:
        raise InputError(f"unknown log format {fmt!r} (ecto, stderr, csvlog, jsonlog)")
    return readers[fmt]


# ---- analysis -----------------------------------------------------------------------------------

class Analysis:
    """Feed it queries and ended requests in log order; read the summary at the end."""

    def __init__(self, *, slow_ms: float = SLOW_MS, min_count: int = MIN_COUNT, min_ms: float = MIN_MS) -> None:
        self.options = {"slow_ms": slow_ms, "min_count": min_count, "min_ms": min_ms}
        self.slow_ms = slow_ms
        self.fingerprints = Fingerprinter()
        self.stats: dict[str, FingerprintStats] = {}
        self.detector = Detector(min_count, min_ms)
        self.requests = 0
        self.queries = 0

    def feed(self, events: Iterable[LoggedQuery | Request]) -> None:
        stats = self.stats
        of = self.fingerprints.of
        detector_add = self.detector.add
        for item in events:
            if type(item) is LoggedQuery:
                sql = item.sql
                fp = of(sql)
                entry = stats.get(fp)
                if entry is None:
                    entry = stats[fp] = FingerprintStats(fp)
                ms = item.db_ms + item.decode_ms + item.queue_ms
                if item.kind == "plan":
                    entry.add_plan(item.plan, ms)
                    if not entry.sql:
                        entry.sql = sql
                    continue
                self.queries += 1
                entry.add(sql, ms, item.params, item.call_site, item.request, item.status, item.error, item)
                detector_add(fp, sql, ms, item.params, item.call_site, item.stack, item.request_key, item.request)
            elif isinstance(item, Request):
                if item.kind == "request":
                    self.requests += 1
                self.detector.close(item.key, item.label)

    def merge(self, other: "Analysis") -> None:
        """Fold in the analysis of a later part of the log (see tools.logs.parallel)."""
        for fp, theirs in other.stats.items():
            mine = self.stats.get(fp)
            if mine is None:
                self.stats[fp] = theirs
            else:
                mine.merge(theirs)
        self.detector.merge(other.detector)
        self.requests += other.requests
        self.queries += other.queries
        self.fingerprints.unparsed += other.fingerprints.unparsed

    def summary(self, files: list[str], formats: list[str]) -> LogSummary:
        groups = []
        for entry in self.stats.values():
            if entry.calls == 0 and entry.plan_calls:
                # Only auto_explain saw it (no duration logging): its entries are the calls.
                entry.calls, entry.total_ms = entry.plan_calls, entry.plan_total_ms
                entry.max_ms = entry.plans[0][0] if entry.plans else 0.0
                entry.samples = [ms for ms, _ in entry.plans]
            if entry.calls == 0:
                continue
            groups.append(entry)
        groups.sort(key=lambda e: (-e.total_ms, e.fingerprint))
        findings = [Finding(kind=f.kind, call_site=f.call_site, request=f.request, count=f.count,
                            total_ms=f.total_ms, sql=f.sql, params=shown_params(f.params),
                            fix=f.fix)
                    for f in self.detector.findings()]
        for entry in groups:
            p95 = entry.percentile(0.95)
            if p95 >= self.slow_ms or entry.mean_ms >= self.slow_ms:
                findings.append(Finding(
                    kind="slow_query", call_site=(entry.call_sites or [None])[0], request=entry.example_request,
                    count=entry.calls, total_ms=round(entry.total_ms, 1), sql=entry.sql,
                    params=shown_params(entry.params), fix=_slow_fix(entry, p95)))
        for entry in groups:
            if entry.errors:
                findings.append(Finding(
                    kind="query_error", call_site=(entry.call_sites or [None])[0], request=entry.example_request,
                    count=entry.errors, total_ms=0.0, sql=entry.sql, params=shown_params(entry.params),
                    fix=(f"the database rejected it: {entry.error_message}" if entry.error_message else
                         "the database rejected this query; the exception logged after it says why") +
                        "; fix the query or the schema it expects, then run it again"))
        return LogSummary(files=files, formats=formats, requests=self.requests, queries=self.queries,
                          groups=[_group(e) for e in groups], findings=findings)


def shown_params(params: str | None) -> str | None:
    """Params as a list: Ecto's inspected list as logged, or a server log's `parameters:` as JSON."""
    if params is None or params.startswith("["):
        return params
    from tools.logs.postgres import params_json

    return params_json(params)


def _group(entry: FingerprintStats) -> QueryGroup:
    plan = None
    if entry.plans and entry.plans[0][1] is not None:
        plan = _plan_summary(entry.plans[0][1], entry.plans[0][0])
    return QueryGroup(fingerprint=entry.fingerprint, sql=entry.sql, calls=entry.calls,
                      total_ms=round(entry.total_ms, 1), mean_ms=round(entry.mean_ms, 2),
                      p95_ms=round(entry.percentile(0.95), 2), max_ms=round(max(entry.max_ms, 0.0), 2),
                      params=shown_params(entry.params), call_sites=entry.call_sites[:10], errors=entry.errors,
                      variants=len(entry.variants), plan=plan)


def _plan_summary(plan: Any, ms: float) -> dict[str, Any]:
    """The slowest auto_explain plan, read by the plan model and the insight rules."""
    try:
        from tools.explain.insights import analyze

        insights = analyze(plan, top=3)
    except Exception:  # noqa: BLE001 - a plan the rules cannot read still has its numbers
        insights = []
    return {"duration_ms": round(ms, 2), "root": plan.root.node_type if plan.nodes else None,
            "nodes": len(plan.nodes),
            "insights": [{"title": i.title, "score": round(i.score, 3), "fix": i.fix.model_dump()
                          if hasattr(i.fix, "model_dump") else str(i.fix)} for i in insights]}


def _slow_fix(entry: FingerprintStats, p95: float) -> str:
    if entry.plans and entry.plans[0][1] is not None:
        summary = _plan_summary(entry.plans[0][1], entry.plans[0][0])
        if summary["insights"]:
            top = summary["insights"][0]
            fix = top["fix"]
            detail = (fix.get("ecto") or fix.get("summary") or "") if isinstance(fix, dict) else str(fix)
            return f"auto_explain's plan says: {top['title']}" + (f"; {detail}" if detail else "")
    return (f"p95 {round(p95, 1)} ms over {entry.calls} call(s): explain it with these params "
            "(the explain tool, or `ecto-optimizer explain`) to see where the time goes")


def summarize(paths: Iterable[Path | str], *, slow_ms: float = SLOW_MS, min_count: int = MIN_COUNT,
              min_ms: float = MIN_MS, fmt: str | None = None, code: Path | str | None = None,
              jobs: int = 1) -> LogSummary:
    """`code`: the project's root, to point each N+1 at the loop that makes it (see locate_loops).
    `jobs`: processes for each large file (see tools.logs.parallel); 1 reads in this process."""
    from tools.logs import parallel

    analysis = Analysis(slow_ms=slow_ms, min_count=min_count, min_ms=min_ms)
    files, formats = [], []
    for path in paths:
        path = Path(path)
        detected, events = read_any(path, fmt)
        files.append(str(path))
        formats.append(detected)
        if parallel.splittable(path, detected, jobs):
            for part in parallel.analyse_in_parts(path, detected, jobs, analysis.options):
                analysis.merge(part)
        else:
            analysis.feed(events)
    summary = analysis.summary(files, formats)
    if code is not None:
        locate_loops(summary, Path(code))
    return summary


def locate_loops(summary: LogSummary, root: Path) -> None:
    """Add the loop to each N+1 whose logged call site is not in a loop itself.

    Ecto logs one frame by default: the function just outside the Repo, often a context
    function such as `Accounts.get_user!/1`, while the loop that calls it is one frame up, in a
    controller or LiveView. The static scan knows both ends of that call.
    """
    wanted = [f for f in summary.findings if f.kind == "n_plus_one" and f.call_site]
    if not wanted or not root.is_dir():
        return
    from tools.logs.scan import scan

    try:
        found = scan(root).findings
    except InputError:
        return
    for finding in wanted:
        site = finding.call_site
        loops = [s for s in found if f"{s.file}:{s.line}" == site or f" at {site}" in s.call]
        if not loops:
            continue
        where = "; ".join(f"{s.file}:{s.line} ({s.call} inside {s.loop})" for s in loops[:3])
        finding.fix += f". The loop: {where}"


def render(summary: LogSummary, top: int = 10) -> str:
    lines = [f"{len(summary.files)} file(s) ({', '.join(sorted(set(summary.formats))) or 'no format'}), "
             f"{summary.requests} request(s), {summary.queries} queries, {len(summary.groups)} distinct"]
    for f in summary.findings:
        if f.kind == "n_plus_one":
            lines.append(f"N+1: {f.count}x in {f.request} from {f.call_site or 'unknown site'} ({f.total_ms} ms): "
                         f"{f.sql}\n  params (one call): {f.params or '[]'}\n  fix: {f.fix}")
    for f in summary.findings:
        if f.kind == "query_error":
            lines.append(f"Failed {f.count}x at {f.call_site or 'unknown site'}: {f.sql}\n  {f.fix}")
    lines.append("Top queries by total time:")
    for g in summary.groups[:top]:
        lines.append(f"- {g.calls} call(s), {g.total_ms} ms total, {g.mean_ms} ms mean, p95 {g.p95_ms} ms, "
                     f"max {g.max_ms} ms; at {', '.join(g.call_sites[:3]) or 'unknown site'}\n  SQL: {g.sql}\n"
                     f"  params: {g.params or '[]'}")
        if g.plan and g.plan.get("insights"):
            lines.append("  auto_explain: " + "; ".join(i["title"] for i in g.plan["insights"]))
    if not summary.groups:
        lines.append("- none: no query lines found (is Ecto logging at :debug, or log_min_duration_statement set?)")
    return "\n".join(lines)


def __getattr__(name: str) -> Any:
    # The agent tool lives in tools.logs.tool; the registry still imports it from here.
    if name == "AnalyzeLogs":
        from tools.logs.tool import AnalyzeLogs

        return AnalyzeLogs
    raise AttributeError(name)
