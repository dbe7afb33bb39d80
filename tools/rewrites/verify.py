"""Running the original and each rewrite, and judging the rewrite by what it returns.

Both versions run in one transaction that is rolled back - READ ONLY, with statement and lock
timeouts, as tools/explain/runner.py does for a single plan - each inside a savepoint so a
failing rewrite cannot spoil the others. For each version: its rows are fetched once through a
server-side cursor (which warms the cache for both sides alike) and hashed row by row, then it
runs under EXPLAIN (ANALYZE, BUFFERS), best of up to three runs when it is fast.

Rows are compared as ordered lists when the original's ORDER BY is total, else as multisets:
a rewrite is equal only when every row comes back the same number of times.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

from tools.db.connect import describe_error
from tools.explain.plan import Plan, parse_plan
from tools.rewrites.base import MIN_SPEEDUP, Measurement, Proposal, Run, Variant, plan_summary

MAX_ROWS = 1_000_000  # per version; beyond this the comparison is not attempted
FAST_MS = 300.0  # versions faster than this are measured three times and the best kept
SAMPLE_ROWS = 3
MIN_BYTES_RATIO = 2.0  # unused wide columns: proposed when the rows shrink this much


@dataclass
class Outcome:
    hashes: dict[tuple | None, list[bytes]] = field(default_factory=dict)  # projection -> row hashes
    samples: dict[tuple | None, list[tuple]] = field(default_factory=dict)
    measurement: Measurement | None = None
    plan: Plan | None = None
    error: str | None = None
    too_many: bool = False


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (list, tuple)):
        return tuple(normalise(v) for v in value)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value.is_finite() else str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def row_hash(row: tuple) -> bytes:
    return hashlib.blake2b(repr(row).encode(), digest_size=16).digest()


class Verifier:
    def __init__(self, conn: psycopg.Connection, *, statement_timeout_ms: int, database_url: str | None = None):
        self.conn = conn
        self.timeout_ms = statement_timeout_ms
        self.url = database_url
        self._cache: dict[tuple, Outcome] = {}
        self._savepoint = 0

    # ---- one version -----------------------------------------------------------------------------

    def run(self, variant: Variant, projections: set[tuple | None], *, timeout_ms: int | None = None,
            wants_bytes: bool = False) -> Outcome:
        key = (variant.key, tuple(sorted(projections, key=repr)), wants_bytes)
        if key in self._cache:
            return self._cache[key]
        outcome = Outcome()
        self._savepoint += 1
        name = f"rewrite_{self._savepoint}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            self._set_timeout(timeout_ms or self.timeout_ms)
            runs = variant.runs
            if variant.setup is not None:
                with psycopg.RawCursor(self.conn) as cur:
                    runs = variant.setup(cur)
            self._fetch(runs, projections, outcome)
            if not outcome.too_many:
                self._explain(runs, outcome, wants_bytes)
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
        except psycopg.errors.QueryCanceled:
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            outcome.error = f"cancelled after the {timeout_ms or self.timeout_ms} ms statement timeout"
        except psycopg.Error as exc:
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            outcome.error = describe_error(exc, self.url)
        finally:
            self._set_timeout(self.timeout_ms)
        self._cache[key] = outcome
        return outcome

    def _set_timeout(self, ms: int) -> None:
        self.conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(ms)}ms",))

    def _fetch(self, runs: list[Run], projections: set[tuple | None], outcome: Outcome) -> None:
        hashes: dict[tuple | None, list[bytes]] = {p: [] for p in projections}
        samples: dict[tuple | None, list[tuple]] = {p: [] for p in projections}
        count = 0
        started = time.perf_counter()
        for i, run in enumerate(runs):
            with psycopg.RawServerCursor(self.conn, f"rewrite_rows_{self._savepoint}_{i}") as cur:
                cur.itersize = 5000
                cur.execute(run.sql, run.params or None)
                for row in cur:
                    count += 1
                    if count > MAX_ROWS:
                        outcome.too_many = True
                        return
                    full = tuple(normalise(v) for v in row)
                    for projection in projections:
                        values = full if projection is None else tuple(full[j] for j in projection)
                        hashes[projection].append(row_hash(values))
                        if len(samples[projection]) < 200:
                            samples[projection].append(values)
        outcome.measurement = Measurement(fetch_ms=(time.perf_counter() - started) * 1000, rows=count,
                                          runs=len(runs))
        outcome.hashes, outcome.samples = hashes, samples

    def _explain(self, runs: list[Run], outcome: Outcome, wants_bytes: bool) -> None:
        best_exec = best_plan = None
        plan = None
        repeats = 1
        attempt = 0
        while attempt < repeats:
            exec_total = plan_total = 0.0
            for run in runs:
                with psycopg.RawCursor(self.conn) as cur:
                    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {run.sql}", run.params or None)
                    raw = cur.fetchone()[0]
                parsed = parse_plan(raw if isinstance(raw, str) else json.dumps(raw))
                plan = plan or parsed
                exec_total += parsed.execution_time_ms or 0.0
                plan_total += parsed.planning_time_ms or 0.0
            if best_exec is None or exec_total < best_exec:
                best_exec, best_plan = exec_total, plan_total
            attempt += 1
            if attempt == 1 and exec_total < FAST_MS:
                repeats = 3
        m = outcome.measurement or Measurement()
        m.explain_ms, m.planning_ms = best_exec, best_plan
        m.plan_summary = plan_summary(plan)
        if wants_bytes:
            total = 0
            for run in runs:
                with psycopg.RawCursor(self.conn) as cur:
                    cur.execute(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM ({run.sql}) AS t",
                                run.params or None)
                    total += int(cur.fetchone()[0])
            m.bytes = total
        outcome.measurement, outcome.plan = m, plan

    def probe(self, run: Run) -> Any:
        """One value from an evidence query (e.g. how many NULLs a column holds)."""
        self._savepoint += 1
        name = f"rewrite_probe_{self._savepoint}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            with psycopg.RawCursor(self.conn) as cur:
                cur.execute(run.sql, run.params or None)
                row = cur.fetchone()
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
            return row[0] if row else None
        except psycopg.Error:
            self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            return None

    # ---- a candidate against its reference --------------------------------------------------------

    def judge(self, proposal: Proposal, original: Variant) -> dict[str, Any]:
        """Fill the candidate's verdict; returns the probes' values for the finding's evidence."""
        cand = proposal.candidate
        reference = proposal.reference or original
        if not reference.runs and reference.setup is None:
            cand.status, cand.reason = "unverified", "nothing to compare it with (no group ids)"
            return {}
        projection = tuple(cand.keep_columns) if cand.keep_columns is not None else None
        before = self.run(reference, {projection}, wants_bytes=proposal.wants_bytes)
        probes = {name: self.probe(run) for name, (run, _) in proposal.probes.items()}
        if before.error or before.too_many:
            cand.status = "unverified"
            cand.reason = ("the original query failed: " + before.error) if before.error else \
                f"the original returns more than {MAX_ROWS:,} rows: too many to compare"
            return probes
        base_ms = (before.measurement.explain_ms or 0.0) if before.measurement else 0.0
        budget = int(min(self.timeout_ms, max(2_000.0, 3 * base_ms * max(1, len(reference.runs)) + 1_000)))
        after = self.run(proposal.variant, {None}, timeout_ms=budget, wants_bytes=proposal.wants_bytes)
        cand.before, cand.after = before.measurement, after.measurement
        if after.error:
            cand.status, cand.reason = "rejected", f"the rewrite failed: {after.error}"
            return probes
        if after.too_many:
            cand.status, cand.reason = "rejected", f"the rewrite returns more than {MAX_ROWS:,} rows"
            return probes
        ordered = cand.compare == "ordered"
        a, b = before.hashes[projection], after.hashes[None]
        cand.same_rows = (a == b) if ordered else (Counter(a) == Counter(b))
        if not cand.same_rows:
            cand.difference = _difference(a, b, before.samples[projection], after.samples[None], ordered)
        cand.speedup, cand.basis = _speedup(before.measurement, after.measurement, proposal)
        if cand.changes_results:
            cand.status = "behaviour-change"
            cand.reason = (f"not the same query: {cand.changes_results}. "
                           + ("On these params it returns different rows: " + cand.difference
                              if not cand.same_rows else "On these params the rows happen to be the same."))
        elif not cand.same_rows:
            cand.status = "rejected"
            cand.reason = "returns different rows: " + (cand.difference or "")
        elif cand.speedup is not None and cand.speedup >= MIN_SPEEDUP:
            cand.status = "proposed"
            cand.reason = f"same rows, {cand.speedup:.1f}x faster ({cand.basis})"
            b, a = before.measurement, after.measurement
            if (b.runs > 1 or a.runs > 1) and b.fetch_ms and a.fetch_ms:
                cand.reason += (f"; {b.fetch_ms / max(a.fetch_ms, 0.001):.1f}x by wall time from this client, "
                                "round trips included")
        elif proposal.wants_bytes and _bytes_ratio(before.measurement, after.measurement) >= MIN_BYTES_RATIO:
            # Locally the transfer is nearly free; over a network and in the app's memory it is not.
            cand.status = "proposed"
            ratio = _bytes_ratio(before.measurement, after.measurement)
            cand.reason = (f"same rows, {ratio:.1f}x fewer bytes ({before.measurement.bytes / 1024:,.0f} kB -> "
                           f"{after.measurement.bytes / 1024:,.0f} kB); {cand.speedup or 0:.1f}x by {cand.basis} "
                           "from this client")
        else:
            cand.status = "rejected"
            if cand.speedup is not None and cand.speedup < 1 / MIN_SPEEDUP:
                cand.reason = f"same rows, but slower here ({cand.speedup:.2f}x by {cand.basis})"
            else:
                shown = f"{cand.speedup:.2f}x" if cand.speedup is not None else "not measurable"
                cand.reason = (f"same rows, but not faster here ({shown} by {cand.basis or 'time'}; a proposal "
                               f"needs {MIN_SPEEDUP}x)")
        return probes


def _bytes_ratio(before: Measurement | None, after: Measurement | None) -> float:
    if not before or not after or not before.bytes or not after.bytes:
        return 0.0
    return before.bytes / after.bytes


def _speedup(before: Measurement | None, after: Measurement | None, proposal: Proposal) -> tuple[float | None, str]:
    if before is None or after is None:
        return None, "time"
    if proposal.wants_bytes and before.fetch_ms and after.fetch_ms:
        # EXPLAIN ANALYZE neither detoasts nor sends rows (no SERIALIZE before PostgreSQL 17):
        # for unused wide columns the saving is in the fetch.
        return before.fetch_ms / max(after.fetch_ms, 0.001), "wall time to fetch the rows"
    if before.runs > 1 or after.runs > 1:
        b = (before.explain_ms or 0) + (before.planning_ms or 0)
        a = (after.explain_ms or 0) + (after.planning_ms or 0)
        if a > 0:
            return b / a, f"planning + execution time of {before.runs} statements against {after.runs}"
    if before.explain_ms is not None and after.explain_ms is not None:
        return before.explain_ms / max(after.explain_ms, 0.001), "execution time"
    return None, "time"


def _difference(a: list[bytes], b: list[bytes], sa: list[tuple], sb: list[tuple], ordered: bool) -> str:
    if len(a) == 1 and len(b) == 1 and sa and sb:
        return f"the original returns {_show(sa[0])}, the rewrite {_show(sb[0])}"
    ca, cb = Counter(a), Counter(b)
    only_a = sum((ca - cb).values())
    only_b = sum((cb - ca).values())
    text = f"the original returns {len(a):,} rows, the rewrite {len(b):,}"
    if only_a or only_b:
        text += f"; {only_a:,} only in the original, {only_b:,} only in the rewrite"
        missing = [r for r in sa if row_hash(r) not in cb][:SAMPLE_ROWS]
        extra = [r for r in sb if row_hash(r) not in ca][:SAMPLE_ROWS]
        if extra:
            text += f" (e.g. {_show(extra[0])})"
        elif missing:
            text += f" (e.g. {_show(missing[0])})"
    elif ordered:
        text += "; the same rows in a different order"
    return text


def _show(row: tuple) -> str:
    text = repr(row)
    return text if len(text) <= 120 else text[:119] + "…"
