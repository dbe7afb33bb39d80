"""Query fingerprints: calls that differ only in constants or parameter values count as one query.

The fingerprint is pg_query's, through pglast: it ignores literal values, `$n` numbering, the
length of IN lists and comments, so Ecto's `$1` queries, the literal SQL of a server log and
ecto_dev_logger's inlined SQL all group. Fingerprinting costs ~10 µs, so results are cached:
by the SQL text itself for SQL without literals (every Ecto query), else by the text with its
literals masked, which turns a million distinct literal statements into a handful of lookups.
SQL pglast cannot parse (truncated, another dialect) falls back to a digest of the masked text.

Per fingerprint we keep counts and sums, the slowest call as the example (its SQL and params
are what is worth explaining), call sites by frequency, and enough of the durations for p95:
every one up to SAMPLES, then a histogram with 2 % wide buckets, so memory stays bounded
however long the log is.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field

from pglast.parser import ParseError, fingerprint as pg_fingerprint

LITERALS = re.compile(r"'(?:[^']|'')*'|(?<![\w$.\"])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w\"])|\$\d+")
IN_LIST = re.compile(r"\((?:\s*\?\s*,)+\s*\?\s*\)")
CACHE_SIZE = 100_000
SAMPLES = 2_000
BUCKET = math.log(1.02)
MAX_SITES = 50
MAX_VARIANTS = 8


def mask(sql: str) -> str:
    """The SQL with every literal and placeholder replaced by `?` (and IN lists collapsed)."""
    masked = LITERALS.sub("?", sql)
    return IN_LIST.sub("(?)", masked) if "?," in masked or "?, " in masked else masked


class Fingerprinter:
    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self.cache: dict[str, str] = {}
        self.cache_size = cache_size
        self.unparsed = 0

    def of(self, sql: str) -> str:
        cache = self.cache
        found = cache.get(sql)
        if found is not None:
            return found
        key = mask(sql)
        found = cache.get(key)
        if found is None:
            try:
                found = pg_fingerprint(sql)
            except (ParseError, ValueError, TypeError):
                self.unparsed += 1
                found = "~" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
            if len(cache) >= self.cache_size:
                cache.clear()  # bounded memory beats a perfect hit rate on pathological logs
            cache[key] = found
        if key != sql and "$" in sql:
            # Placeholder SQL repeats verbatim (values travel apart), so its text is a safe key;
            # literal SQL is not cached by text, or unique statements would flood the cache.
            cache[sql] = found
        return found


@dataclass(eq=False)
class FingerprintStats:
    fingerprint: str
    sql: str = ""  # the slowest call's SQL, with…
    params: str | None = None  # …its params: the call worth explaining
    calls: int = 0
    total_ms: float = 0.0
    max_ms: float = -1.0
    errors: int = 0
    error: str | None = None
    example_request: str | None = None
    example_site: str | None = None
    sites: dict[str, int] = field(default_factory=dict)
    variants: dict[str, int] = field(default_factory=dict)  # distinct SQL texts (e.g. `= $1` and `= ANY($1)`)
    samples: list[float] = field(default_factory=list)
    histogram: dict[int, int] | None = None
    plans: list = field(default_factory=list)  # auto_explain plans, slowest first (at most a few)
    failed: object | None = None  # the first failed call: its error may be read after it was added
    plan_calls: int = 0
    plan_total_ms: float = 0.0

    def add(self, sql: str, ms: float, params: str | None, site: str | None, request: str | None,
            status: str = "OK", error: str | None = None, query: object = None) -> None:
        self.calls += 1
        self.total_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms
            self.sql, self.params = sql, params
            self.example_request, self.example_site = request, site
        if site is not None:
            sites = self.sites
            if site in sites:
                sites[site] += 1
            elif len(sites) < MAX_SITES:
                sites[site] = 1
        variants = self.variants
        if sql in variants:
            variants[sql] += 1
        elif len(variants) < MAX_VARIANTS:
            variants[sql] = 1
        if status != "OK":
            self.errors += 1
            if self.error is None and error:
                self.error = error
            if self.failed is None:
                self.failed = query
        if self.histogram is None:
            self.samples.append(ms)
            if len(self.samples) > SAMPLES:
                self.histogram = {}
                for value in self.samples:
                    self._bucket(value)
                self.samples = []
        else:
            self._bucket(ms)

    def _bucket(self, ms: float) -> None:
        index = -1 if ms <= 0.001 else int(math.log(ms * 1000.0) / BUCKET)
        self.histogram[index] = self.histogram.get(index, 0) + 1  # type: ignore[index]

    def merge(self, other: "FingerprintStats") -> None:
        """Fold in the same fingerprint's figures from a later part of the log."""
        self.calls += other.calls
        self.total_ms += other.total_ms
        if other.max_ms > self.max_ms:
            self.max_ms, self.sql, self.params = other.max_ms, other.sql, other.params
            self.example_request, self.example_site = other.example_request, other.example_site
        for mine, theirs, cap in ((self.sites, other.sites, MAX_SITES), (self.variants, other.variants, MAX_VARIANTS)):
            for key, count in theirs.items():
                if key in mine:
                    mine[key] += count
                elif len(mine) < cap:
                    mine[key] = count
        self.errors += other.errors
        self.error = self.error or other.error
        self.failed = self.failed or other.failed
        if self.histogram is None and other.histogram is None and len(self.samples) + len(other.samples) <= SAMPLES:
            self.samples.extend(other.samples)
        else:
            for part in (self, other):
                if part.histogram is None:
                    part.histogram = {}
                    for value in part.samples:
                        part._bucket(value)
                    part.samples = []
            for index, count in other.histogram.items():  # type: ignore[union-attr]
                self.histogram[index] = self.histogram.get(index, 0) + count  # type: ignore[index]
        self.plans = sorted(self.plans + other.plans, key=lambda t: -t[0])[:3]
        self.plan_calls += other.plan_calls
        self.plan_total_ms += other.plan_total_ms

    @property
    def error_message(self) -> str | None:
        return self.error or getattr(self.failed, "error", None)

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    def percentile(self, p: float) -> float:
        if self.histogram is None:
            if not self.samples:
                return 0.0
            ordered = sorted(self.samples)
            return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]
        rank = math.ceil(p * sum(self.histogram.values()))
        seen = 0
        for index in sorted(self.histogram):
            seen += self.histogram[index]
            if seen >= rank:
                # The bucket's upper edge: within 2 % of the true value, never an underestimate.
                return 0.0 if index < 0 else min(math.exp((index + 1) * BUCKET) / 1000.0, self.max_ms)
        return self.max_ms

    @property
    def call_sites(self) -> list[str]:
        return [site for site, _ in sorted(self.sites.items(), key=lambda kv: (-kv[1], kv[0]))]

    def add_plan(self, plan: object, ms: float) -> None:
        self.plan_calls += 1
        self.plan_total_ms += ms
        self.plans.append((ms, plan))
        self.plans.sort(key=lambda t: -t[0])
        del self.plans[3:]
