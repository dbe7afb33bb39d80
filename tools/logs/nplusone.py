"""N+1 queries in a log, and the Ecto rewrite for each.

The rule is Prosopite's with Sentry's thresholds (shared/reference/ecto-formats.md §6): the same
fingerprint from the same call site (the whole logged stack when there is one) at least twice
within one request, and at least MIN_COUNT times or MIN_MS in total. Ecto never lazy-loads, so
each finding is an explicit Repo call in a loop; the SQL says which one. A separate-query preload
selects its key column twice and filters `= $1` for one parent where the batched form is
`= ANY($1)`: that is Repo.preload on each element instead of on the list. A lookup by id without
the doubled column is Repo.get per element; `count(…)` and `SELECT TRUE … LIMIT 1` are
aggregate and exists? per element.

Findings are merged over requests: one per (fingerprint, call site), reporting the request where
it cost most, so a page that is hit a thousand times gives one finding, not a thousand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MIN_COUNT = 5
MIN_MS = 50.0
SKIP = ("begin", "commit", "rollback", "savepoint", "release", "set ", "show ", "deallocate", "discard",
        "reset ", "listen", "notify", "unlisten")
MAX_PARAMS_KEPT = 20

SELECT = re.compile(r'^SELECT (?P<cols>.+?) FROM "(?P<table>[^"]+)" AS (?P<alias>\w+)(?P<rest>.*)$', re.S)
EQUALS = re.compile(r'(?P<alias>\w+)\."(?P<col>[^"]+)"(?:::\w+)? = (?P<rhs>\$\d+|ANY\(\$\d+\))')
JOIN_TABLE = re.compile(r'JOIN "(?P<table>[^"]+)" AS (?P<alias>\w+) ON ')
COLUMN = re.compile(r'(\w+)\."([^"]+)"')
INSERT = re.compile(r'^INSERT INTO "(?P<table>[^"]+)"')
UPDATE = re.compile(r'^UPDATE "(?P<table>[^"]+)"')
DELETE = re.compile(r'^DELETE FROM "(?P<table>[^"]+)"')


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("ss") or word.endswith("us") or not word.endswith("s"):
        return word
    return word[:-1]


def schema_name(table: str) -> str:
    return "".join(part.capitalize() for part in singular(table).split("_")) or "Schema"


@dataclass
class Shape:
    """What an Ecto query per element was, read from its SQL."""

    kind: str  # preload_many, preload_one, preload_m2m, get, by_column, count, exists, insert, update, delete, other
    table: str | None = None
    column: str | None = None  # the filtered column
    batched: bool = False  # already `= ANY($1)`: a batch per element, not a lookup


def shape(sql: str) -> Shape:
    text = sql.strip()
    upper = text[:7].upper()
    if upper.startswith("INSERT"):
        m = INSERT.match(text)
        return Shape("insert", m.group("table") if m else None)
    if upper.startswith("UPDATE"):
        m = UPDATE.match(text)
        return Shape("update", m.group("table") if m else None)
    if upper.startswith("DELETE"):
        m = DELETE.match(text)
        return Shape("delete", m.group("table") if m else None)
    m = SELECT.match(text)
    if m is None:
        return Shape("other")
    table, alias, cols, rest = m.group("table"), m.group("alias"), m.group("cols"), m.group("rest")
    at = rest.find(" WHERE ")
    conditions = list(EQUALS.finditer(rest[at:])) if at >= 0 else []
    selected = COLUMN.findall(cols)
    # The preloader selects {key, struct}: the struct's fields, then the key once more, and
    # filters on that key; other conditions (a preload query's where:) may stand beside it.
    key = selected[-1] if len(selected) >= 2 and selected[-1] in selected[:-1] else None
    where = next((c for c in conditions if (c.group("alias"), c.group("col")) == key), None) or \
        (conditions[0] if conditions else None)
    column = where.group("col") if where else None
    batched = bool(where and where.group("rhs").startswith("ANY"))
    head = cols.strip().lower()
    if head.startswith(("count(", "sum(", "avg(", "max(", "min(")):
        return Shape("count", table, column, batched)
    if head == "true" and " LIMIT 1" in rest:
        return Shape("exists", table, column, batched)
    if where is None:
        return Shape("other", table)
    if where.group("alias") != alias:
        joined = {a: t for t, a in JOIN_TABLE.findall(rest)}
        if where.group("alias") in joined and selected and selected[-1] == (where.group("alias"), column):
            return Shape("preload_m2m", table, column, batched)
        return Shape("by_column", table, column, batched)
    if key == (alias, column):
        return Shape("preload_one" if column == "id" else "preload_many", table, column, batched)
    if column == "id":
        return Shape("get", table, column, batched)
    return Shape("by_column", table, column, batched)


def ecto_fix(sql: str, *, same_params: bool = False, batch_seen: bool = False) -> str:
    """The rewrite, as Ecto code, for a query that ran once per element."""
    if same_params:
        return ("the same query with the same params ran again and again: run it once before the loop and "
                "pass the result down (or keep it in the request's assigns)")
    s = shape(sql)
    table = s.table or "records"
    schema = schema_name(table)
    col = s.column or "id"
    var = table
    also = " (the log shows the batched `= ANY($1)` form elsewhere: this call site skipped it)" if batch_seen else ""
    if s.kind == "preload_many":
        parent = col[:-3] if col.endswith("_id") else "parent"
        parents = parent + "s" if not parent.endswith("s") else parent
        parent_schema = schema_name(parents)
        return (f"Repo.preload is called on each {parent} (one `= $1` query per {parent}): preload once on the whole "
                f"list before the loop, `{parents} = Repo.preload({parents}, :{table})` (one `= ANY($1)` query), or "
                f"join and preload where the {parents} are loaded: `from p in {parent_schema}, left_join: x in "
                f"assoc(p, :{table}), preload: [{table}: x]`{also}")
    if s.kind == "preload_m2m":
        return (f"Repo.preload of a many_to_many is called on each element: preload once on the whole list, "
                f"`Repo.preload(records, :{table})` (one `= ANY($1)` query){also}")
    if s.kind == "preload_one":
        assoc = singular(table)
        return (f"Repo.preload of :{assoc} is called on each element (one `= $1` query each): preload once on "
                f"the list, `records = Repo.preload(records, :{assoc})` (one `= ANY($1)` query), or join it "
                f"where the records are loaded: `join: a in assoc(r, :{assoc}), preload: [{assoc}: a]`{also}")
    if s.kind == "get":
        assoc = singular(table)
        return (f"Repo.get of a {schema} runs per element: declare `belongs_to :{assoc}` and "
                f"`Repo.preload(records, :{assoc})` on the list, or fetch all in one query before the loop: "
                f"`{var}_by_id = Repo.all(from x in {schema}, where: x.id in ^ids) |> Map.new(&{{&1.id, &1}})`, "
                f"then look each one up in the map")
    if s.kind == "by_column" and s.batched:
        return (f"a batched `{col} = ANY($1)` query still runs once per element: collect the values of every "
                f"element first and run it once")
    if s.kind == "by_column":
        return (f"one query per element on {table}.{col}: load them all at once, `from x in {schema}, "
                f"where: x.{col} in ^values` (one `= ANY($1)` query), then `Enum.group_by(rows, & &1.{col})` and "
                f"look each element's rows up; if it is an association, `Repo.preload(records, :{table})`")
    if s.kind == "count":
        return (f"an aggregate per element on {table}: one grouped query instead, `from x in {schema}, "
                f"where: x.{col} in ^values, group_by: x.{col}, select: {{x.{col}, count(x.id)}}` "
                f"|> Repo.all() |> Map.new()")
    if s.kind == "exists":
        return (f"Repo.exists? per element on {table}: one query instead, `from x in {schema}, "
                f"where: x.{col} in ^values, distinct: true, select: x.{col}` |> Repo.all() |> MapSet.new(), "
                f"then test membership")
    if s.kind == "insert":
        return (f"Repo.insert per element: build the rows and call `Repo.insert_all({schema}, rows)` once "
                f"(chunks of a few thousand), or group the inserts in one Ecto.Multi")
    if s.kind == "update":
        return (f"Repo.update per element: one `Repo.update_all(from x in {schema}, where: x.id in ^ids, "
                f"update: [set: [...]])` when every row gets the same change")
    if s.kind == "delete":
        return f"Repo.delete per element: one `Repo.delete_all(from x in {schema}, where: x.id in ^ids)`"
    return ("the same query runs once per element: load what the loop needs in one query before it "
            "(`where: x.field in ^values`) and match in memory, or preload the association on the whole list")


def skipped(sql: str) -> bool:
    return sql[:12].lower().startswith(SKIP)


@dataclass(eq=False)
class Tally:
    count: int = 0
    total_ms: float = 0.0
    sql: str = ""
    params: str | None = None
    site: str | None = None
    params_seen: set = field(default_factory=set)


@dataclass
class Finding:
    kind: str
    call_site: str | None
    request: str | None
    count: int
    total_ms: float
    sql: str
    params: str | None
    fix: str
    fingerprint: str = ""
    requests_affected: int = 1
    all_total_ms: float = 0.0
    same_params: bool = False  # every call had the same params: a repeat, not a per-element lookup


class Detector:
    """Per-request tallies that live only while their request is open."""

    def __init__(self, min_count: int = MIN_COUNT, min_ms: float = MIN_MS) -> None:
        self.min_count = max(2, min_count)
        self.min_ms = min_ms
        self.open: dict[int, tuple[str | None, dict[tuple, Tally]]] = {}
        self.found: dict[tuple[str, str | None], Finding] = {}
        self.batched: set[str] = set()  # fingerprints seen in the `= ANY($1)` form
        self.skips: dict[str, bool] = {}  # transaction control and the like, by fingerprint

    def add(self, fingerprint: str, sql: str, ms: float, params: str | None, site: str | None,
            stack: tuple[str, ...], request_key: int | None, request: str | None = None) -> None:
        if request_key is None:
            return
        if "ANY($" in sql:
            self.batched.add(fingerprint)
        skip = self.skips.get(fingerprint)
        if skip is None:
            skip = self.skips[fingerprint] = skipped(sql)
        if skip:
            return
        entry = self.open.get(request_key)
        if entry is None:
            entry = self.open[request_key] = (request, {})
        unit = entry[1]
        key = (fingerprint, stack if len(stack) > 1 else site)
        tally = unit.get(key)
        if tally is None:
            tally = unit[key] = Tally(sql=sql, params=params, site=site)
        tally.count += 1
        tally.total_ms += ms
        if len(tally.params_seen) < MAX_PARAMS_KEPT:
            tally.params_seen.add(params)

    def close(self, request_key: int, label: str | None = None) -> None:
        entry = self.open.pop(request_key, None)
        if not entry:
            return
        label = label or entry[0]
        unit = entry[1]
        for (fingerprint, _), tally in unit.items():
            if tally.count < 2 or (tally.count < self.min_count and tally.total_ms < self.min_ms):
                continue
            if tally.site is None and tally.count < self.min_count:
                # Without a call site (server logs, stack traces off) two slow statements may be two
                # requests on one connection: only the count rule is evidence enough.
                continue
            merged = self.found.get((fingerprint, tally.site))
            if merged is None:
                self.found[(fingerprint, tally.site)] = Finding(
                    kind="n_plus_one", call_site=tally.site, request=label, count=tally.count,
                    total_ms=round(tally.total_ms, 1), sql=tally.sql, params=tally.params,
                    fix="", fingerprint=fingerprint, all_total_ms=tally.total_ms,
                    same_params=len(tally.params_seen) == 1 and None not in tally.params_seen)
                continue
            merged.requests_affected += 1
            merged.all_total_ms += tally.total_ms
            merged.same_params = merged.same_params and len(tally.params_seen) == 1
            if (tally.total_ms, tally.count) > (merged.total_ms, merged.count):
                merged.request, merged.count = label, tally.count
                merged.total_ms, merged.sql, merged.params = round(tally.total_ms, 1), tally.sql, tally.params

    def merge(self, other: "Detector") -> None:
        """Fold in the findings of a later part of the log (whose requests are all closed)."""
        self.batched |= other.batched
        for key, theirs in other.found.items():
            mine = self.found.get(key)
            if mine is None:
                self.found[key] = theirs
                continue
            mine.requests_affected += theirs.requests_affected
            mine.all_total_ms += theirs.all_total_ms
            mine.same_params = mine.same_params and theirs.same_params
            if (theirs.total_ms, theirs.count) > (mine.total_ms, mine.count):
                mine.request, mine.count, mine.total_ms = theirs.request, theirs.count, theirs.total_ms
                mine.sql, mine.params = theirs.sql, theirs.params

    def findings(self) -> list[Finding]:
        for key in list(self.open):
            self.close(key)
        result = []
        for finding in self.found.values():
            finding.fix = ecto_fix(finding.sql, same_params=finding.same_params,
                                   batch_seen=finding.fingerprint in self.batched and "ANY($" not in finding.sql)
            if finding.requests_affected > 1:
                finding.fix += (f". Seen in {finding.requests_affected} requests, "
                                f"{round(finding.all_total_ms, 1)} ms in all")
            result.append(finding)
        result.sort(key=lambda f: (-f.all_total_ms, -f.count))
        return result
