"""Reading one large log in several processes, as pgBadger's -j does.

The file is cut into byte ranges at message starts (never inside a query's SQL, a multi-line
statement or a plan), each range is analysed in its own process, and the analyses are merged in
file order. Like pgBadger, a request or a burst that straddles a cut is seen as two: an N+1 at
exactly that spot may be undercounted, and the request count may be off by one per cut. csvlog
(quoted fields may span lines) and gzipped logs are read in one process, as pgBadger does too.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

MIN_PART = 16_000_000  # smaller files are not worth a process (pgBadger's threshold too)
SPLITTABLE = ("ecto", "stderr", "jsonlog")
ECTO_START = re.compile(rb"^(?:\x1b\[[0-9;]*m)*(?:[^\s\[]\S* ){0,8}\[(?:debug|info|notice|warning|warn|error)\] ")
STDERR_PRIMARY = (b"LOG", b"ERROR", b"WARNING", b"FATAL", b"PANIC", b"NOTICE", b"INFO")


def _starts_message(fmt: str, line: bytes) -> bool:
    if fmt == "jsonlog":
        return line.startswith(b"{")
    if fmt == "ecto":
        return ECTO_START.match(line) is not None
    if line.startswith(b"\t"):
        return False
    colon = line.find(b":  ")
    return colon > 0 and line[line.rfind(b" ", 0, colon) + 1:colon] in STDERR_PRIMARY


def cut_points(path: Path, fmt: str, parts: int) -> list[int]:
    """Byte offsets where each part starts: 0, then the first message start after each even cut."""
    size = path.stat().st_size
    points = [0]
    with open(path, "rb") as handle:
        for i in range(1, parts):
            handle.seek(max(size * i // parts, points[-1]))
            handle.readline()  # the rest of the line the cut fell in
            while True:
                offset = handle.tell()
                line = handle.readline()
                if not line:
                    break
                if _starts_message(fmt, line):
                    if offset > points[-1]:
                        points.append(offset)
                    break
    return points


def splittable(path: Path, fmt: str, jobs: int) -> bool:
    if jobs < 2 or fmt not in SPLITTABLE:
        return False
    try:
        with open(path, "rb") as handle:
            if handle.read(2) == b"\x1f\x8b":
                return False
        return path.stat().st_size >= MIN_PART
    except OSError:
        return False


def _analyse_part(path: str, fmt: str, start: int, end: int, options: dict):
    from tools.logs.lines import iter_lines
    from tools.logs.summary import Analysis, reader_for

    analysis = Analysis(**options)
    with open(path, "rb") as handle:
        handle.seek(start)
        analysis.feed(reader_for(fmt)(iter_lines(handle, keep_ends=False, limit=end - start)))
    analysis.fingerprints.cache.clear()  # not worth sending back
    return analysis


def analyse_in_parts(path: Path, fmt: str, jobs: int, options: dict) -> list:
    points = cut_points(path, fmt, jobs)
    ends = points[1:] + [path.stat().st_size]
    # fork: the workers start at once with the modules already imported.
    context = get_context("fork") if "fork" in get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=min(jobs, len(points), os.cpu_count() or 1), mp_context=context) as pool:
        futures = [pool.submit(_analyse_part, str(path), fmt, start, end, options)
                   for start, end in zip(points, ends)]
        return [f.result() for f in futures]
