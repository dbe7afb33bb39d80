"""The plan model: EXPLAIN JSON (PostgreSQL 12 to 18) read into normalised nodes.

Normalisation follows PEV2's reading of plans (see shared/reference/explain-plans.md §2-§8):
per-loop counters multiplied by loops, times divided by the processes of a parallel section,
exclusive time and buffers with the InitPlan, SubPlan and CTE corrections, so that the nodes'
exclusive times add up to the query's runtime and insights can score by the share of time saved.

CONTRACT (other modules rely on these names; keep them stable):
- `parse_plan(source) -> Plan` accepts a JSON string, bytes, a one-element list or an auto_explain
  object; raises tools.errors.InputError with one clear line on anything malformed.
- `Plan.nodes` is in pre-order; `PlanNode.id` is its index there; `PlanNode.parent` the parent's id
  (None for the root and for CTE roots moved out of the tree, whose `parent_relationship` stays
  "InitPlan" and whose `subplan_name` starts with "CTE").
- Times are in milliseconds; `None` where the plan has no timing (no ANALYZE, or TIMING OFF).
- Row counts (`actual_rows_total`, `rows_removed_*`) are totals over all loops.
"""

from __future__ import annotations

import gc
import json
import math
import operator
import re
from typing import Any, Iterator

from pydantic import BaseModel, Field

from tools.errors import InputError


class Buffers(BaseModel):
    shared_hit: int = 0
    shared_read: int = 0
    shared_dirtied: int = 0
    shared_written: int = 0
    local_hit: int = 0
    local_read: int = 0
    local_dirtied: int = 0
    local_written: int = 0
    temp_read: int = 0
    temp_written: int = 0

    @property
    def total_read(self) -> int:
        """Blocks the node touched: hits and reads, shared and local."""
        return self.shared_hit + self.shared_read + self.local_hit + self.local_read


class PlanNode(BaseModel):
    id: int
    parent: int | None = None
    children: list[int] = Field(default_factory=list)
    depth: int = 0
    node_type: str  # display name: "Seq Scan", "HashAggregate", "Insert" (ModifyTable), ...
    raw_node_type: str  # "Node Type" exactly as EXPLAIN printed it
    parent_relationship: str | None = None
    subplan_name: str | None = None
    relation: str | None = None
    schema_name: str | None = None
    alias: str | None = None
    index_name: str | None = None

    startup_cost: float = 0.0
    total_cost: float = 0.0
    exclusive_cost: float = 0.0
    plan_rows: float = 0.0
    plan_width: int = 0

    analyzed: bool = False  # the node carries "Actual Rows"
    never_executed: bool = False  # analysed, and Actual Loops == 0
    loops: float = 0.0
    actual_rows: float | None = None  # per loop, as printed
    actual_rows_total: float | None = None  # actual_rows x loops
    plan_rows_total: float = 0.0  # plan_rows x loops (the planner's estimate is per loop too)
    rows_removed_by_filter: float = 0.0  # totals over loops
    rows_removed_by_join_filter: float = 0.0
    rows_removed_by_index_recheck: float = 0.0
    estimate_factor: float | None = None  # >= 1; None when either side is zero or not analysed
    estimate_direction: str | None = None  # "under" (more rows than planned) or "over"

    workers: int = 1  # processes sharing this node: launched workers + leader inside a Gather
    workers_planned: int | None = None  # Gather / Gather Merge only
    workers_launched: int | None = None

    inclusive_ms: float | None = None
    exclusive_ms: float | None = None
    exclusive_pct: float | None = None  # of the plan's total time, 0..100

    buffers: Buffers = Field(default_factory=Buffers)  # inclusive, as printed
    exclusive_buffers: Buffers = Field(default_factory=Buffers)

    attrs: dict[str, Any] = Field(default_factory=dict)  # every other key of the raw node, minus "Plans"

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


class Trigger(BaseModel):
    name: str
    relation: str | None = None
    constraint_name: str | None = None
    time_ms: float | None = None
    calls: int | None = None


class Plan(BaseModel):
    query_text: str | None = None
    query_identifier: int | None = None
    analyzed: bool = False
    has_timing: bool = False
    has_buffers: bool = False
    planning_time_ms: float | None = None
    execution_time_ms: float | None = None
    total_ms: float | None = None  # execution time, else the root's inclusive time
    triggers: list[Trigger] = Field(default_factory=list)
    jit: dict[str, Any] | None = None
    jit_total_ms: float | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    serialization_ms: float | None = None  # PG 17 SERIALIZE: output conversion, outside the nodes
    nodes: list[PlanNode] = Field(default_factory=list)
    raw_size: int = 0  # characters of the JSON this was read from

    @property
    def root(self) -> PlanNode:
        return self.nodes[0]

    def children(self, node: PlanNode) -> list[PlanNode]:
        return [self.nodes[i] for i in node.children]

    def descendants(self, node: PlanNode) -> Iterator[PlanNode]:
        """Pre-order, without recursion: real plans can nest deeper than Python's stack."""
        stack = list(reversed(node.children))
        while stack:
            child = self.nodes[stack.pop()]
            yield child
            stack.extend(reversed(child.children))

    @property
    def roots(self) -> list[PlanNode]:
        """The root, then each CTE moved out of the tree, in plan order."""
        return [node for node in self.nodes if node.parent is None]

    def parent_of(self, node: PlanNode) -> PlanNode | None:
        return None if node.parent is None else self.nodes[node.parent]


def parse_plan(source: str | bytes | list | dict) -> Plan:
    # The cyclic garbage collector would rescan the freshly parsed JSON tree again and again
    # while the nodes are built, tripling the time on large plans; nothing here forms cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        raw_size, data = _decode(source)
        doc = _locate(data)
        return _Builder(doc, raw_size, finite=isinstance(source, (str, bytes, bytearray,
                                                                   memoryview))).build()
    finally:
        if gc_was_enabled:
            gc.enable()


# ---------------------------------------------------------------------------------------------
# Reading the input

def _decode(source: Any) -> tuple[int, Any]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            source = bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"plan is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if isinstance(source, str):
        text = source.strip().lstrip("\ufeff").strip()
        if not text:
            raise InputError("empty plan: expected the output of EXPLAIN (FORMAT JSON)")
        if text[0] not in '[{"':
            raise InputError("not an EXPLAIN JSON plan: JSON output starts with '[' or '{' "
                             "(run EXPLAIN with FORMAT JSON)")
        return len(text), _loads(text)
    if isinstance(source, (list, dict)):
        try:
            size = len(json.dumps(source, default=str))
        except (ValueError, TypeError, RecursionError) as exc:
            raise InputError(f"not an EXPLAIN JSON plan: {_one_line(str(exc))}") from None
        return size, source
    raise InputError("not an EXPLAIN JSON plan: expected JSON text or a parsed JSON object, "
                     f"got {type(source).__name__}")


def _reject_constant(name: str) -> None:
    raise InputError(f"malformed plan JSON: {name} is not a number EXPLAIN prints")


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        # A plan exported through a spreadsheet or CSV arrives wrapped in quotes with every
        # inner quote doubled; say so, since the JSON error alone points at a puzzling spot.
        hint = " (it looks CSV-quoted: its quotes are doubled)" if '""Plan""' in text else ""
        message = exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg  # "Invalid control character at"
        raise InputError(f"malformed plan JSON at line {exc.lineno} column {exc.colno}: "
                         f"{message}{hint}") from None
    except RecursionError:
        raise InputError("plan JSON is nested too deeply to read") from None


def _locate(data: Any) -> dict:
    """The object holding "Plan", through the wrappers clients put around it."""
    for _ in range(8):
        if isinstance(data, list):
            if len(data) != 1:
                raise InputError("not an EXPLAIN JSON plan: expected a one-element array, "
                                 f"got {len(data)} elements")
            data = data[0]
        elif isinstance(data, dict):
            if "Plan" in data:
                if not isinstance(data["Plan"], dict):
                    raise InputError('not an EXPLAIN JSON plan: "Plan" is not an object')
                return data
            if "QUERY PLAN" in data and len(data) == 1:  # a result row exported by a SQL client
                data = data["QUERY PLAN"]
            else:
                raise InputError('not an EXPLAIN JSON plan: no "Plan" key')
        elif isinstance(data, str):  # JSON that was itself encoded as a JSON string
            text = data.strip()
            if not text or text[0] not in "[{":
                raise InputError("not an EXPLAIN JSON plan: got a JSON string")
            data = _loads(text)
        else:
            raise InputError(f"not an EXPLAIN JSON plan: got a JSON {_json_type(data)}")
    raise InputError("not an EXPLAIN JSON plan: too many nested wrappers around it")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _one_line(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any) -> str:
    try:
        return _one_line(json.dumps(value, default=str), 40)
    except (ValueError, RecursionError):
        return _json_type(value)


# ---------------------------------------------------------------------------------------------
# Building the model

# Keys whose values feed arithmetic here or in the insight rules: a string or a boolean there is
# a malformed plan, and failing on it now beats a TypeError deep inside a rule.
_BUFFER_KEYS = (
    ("shared_hit", "Shared Hit Blocks"), ("shared_read", "Shared Read Blocks"),
    ("shared_dirtied", "Shared Dirtied Blocks"), ("shared_written", "Shared Written Blocks"),
    ("local_hit", "Local Hit Blocks"), ("local_read", "Local Read Blocks"),
    ("local_dirtied", "Local Dirtied Blocks"), ("local_written", "Local Written Blocks"),
    ("temp_read", "Temp Read Blocks"), ("temp_written", "Temp Written Blocks"),
)
_NUMERIC_KEYS = frozenset(
    [key for _, key in _BUFFER_KEYS]
    + [
        "Startup Cost", "Total Cost", "Plan Rows", "Plan Width",
        "Actual Startup Time", "Actual Total Time", "Actual Rows", "Actual Loops",
        "Rows Removed by Filter", "Rows Removed by Join Filter", "Rows Removed by Index Recheck",
        "Rows Removed by Conflict Filter", "Workers Planned", "Workers Launched",
        "Heap Fetches", "Exact Heap Blocks", "Lossy Heap Blocks", "Index Searches",
        "Sort Space Used", "Hash Buckets", "Original Hash Buckets", "Hash Batches",
        "Original Hash Batches", "Peak Memory Usage", "Disk Usage", "HashAgg Batches",
        "Planned Partitions", "Cache Hits", "Cache Misses", "Cache Evictions", "Cache Overflows",
        "I/O Read Time", "I/O Write Time", "Shared I/O Read Time", "Shared I/O Write Time",
        "Local I/O Read Time", "Local I/O Write Time", "Temp I/O Read Time", "Temp I/O Write Time",
        "WAL Records", "WAL FPI", "WAL Bytes", "WAL Buffers Full",
    ]
)
_NUMBER_TYPES = frozenset((int, float))
_TEXT_KEYS = frozenset(("Parent Relationship", "Subplan Name", "Relation Name", "Schema", "Alias",
                        "Index Name", "CTE Name", "Strategy", "Partial Mode", "Operation"))
_TEXT_TYPES = frozenset((str, type(None)))
_BUFFER_ZERO = (0,) * len(_BUFFER_KEYS)
_buffer_values = operator.itemgetter(*(key for _, key in _BUFFER_KEYS))
_GATHERS = ("Gather", "Gather Merge")
_AGG_NAMES = {"Plain": "Aggregate", "Sorted": "GroupAggregate", "Hashed": "HashAggregate",
              "Mixed": "MixedAggregate"}
_SETOP_NAMES = {"Hashed": "HashSetOp", "Sorted": "SetOp"}
_NO_ESTIMATE = ("BitmapAnd", "BitmapOr")  # always report 0 actual rows (docs, "Caveats")
# What a node can use an InitPlan's output by: "$3" up to PG 16, "(InitPlan 2).col1" from PG 17.
_PARAM_REF = re.compile(r"\$\d+|InitPlan \d+")


def _display_type(raw: dict, node_type: str) -> str:
    if node_type == "ModifyTable":
        operation = raw.get("Operation")
        return operation if isinstance(operation, str) and operation else node_type
    if node_type == "Aggregate":
        name = _AGG_NAMES.get(raw.get("Strategy"), node_type)
    elif node_type == "SetOp":
        name = _SETOP_NAMES.get(raw.get("Strategy"), node_type)
    else:
        return node_type
    mode = raw.get("Partial Mode")
    if isinstance(mode, str) and mode and mode != "Simple":
        name = f"{mode} {name}"
    return name


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


class _Builder:
    """Flattens the raw tree (iteratively: plans can be deeper than Python's recursion limit)
    into parallel lists indexed by pre-order id, then derives the normalised values."""

    def __init__(self, doc: dict, raw_size: int, finite: bool) -> None:
        self.doc = doc
        self.raw_size = raw_size
        self.finite = finite  # the JSON text was read refusing NaN and Infinity
        self.raws: list[dict] = []
        self.parent: list[int | None] = []  # in the displayed tree (CTE roots cut off)
        self.raw_parent: list[int | None] = []  # in the JSON tree
        self.depth: list[int] = []
        self.children: list[list[int]] = []  # displayed children
        self.raw_children: list[list[int]] = []
        self.end: list[int] = []  # one past the last id of the node's JSON subtree
        self.num: list[dict[str, float]] = []  # validated numeric keys of each node

    def fail(self, nid: int, message: str) -> InputError:
        node_type = self.raws[nid].get("Node Type") if nid < len(self.raws) else None
        where = f"node {nid}" + (f" ({_one_line(node_type, 40)})" if isinstance(node_type, str) else "")
        return InputError(f"malformed plan: {where}: {message}")

    def flatten(self) -> None:
        stack: list[tuple[Any, int | None, int]] = [(self.doc["Plan"], None, 0)]
        while stack:
            raw, raw_parent, depth = stack.pop()
            nid = len(self.raws)
            self.raws.append(raw if isinstance(raw, dict) else {})
            if not isinstance(raw, dict):
                raise self.fail(nid, f'a child plan is a JSON {_json_type(raw)}, not an object')
            if not isinstance(raw.get("Node Type"), str):
                raise self.fail(nid, 'no "Node Type"' if "Node Type" not in raw
                                else '"Node Type" is not a string')
            parent = raw_parent
            if raw_parent is not None and _is_cte(raw):
                parent, depth = None, 0
            self.parent.append(parent)
            self.raw_parent.append(raw_parent)
            self.depth.append(depth)
            self.children.append([])
            self.raw_children.append([])
            self.end.append(nid + 1)
            if raw_parent is not None:
                self.raw_children[raw_parent].append(nid)
                if parent is not None:
                    self.children[parent].append(nid)
            self.num.append(self.numbers(nid, raw))
            kids = raw.get("Plans")
            if kids is None:
                continue
            if not isinstance(kids, list):
                raise self.fail(nid, '"Plans" is not an array')
            for kid in reversed(kids):
                stack.append((kid, nid, depth + 1))
        for nid in range(len(self.raws) - 1, 0, -1):
            rp = self.raw_parent[nid]
            if self.end[nid] > self.end[rp]:
                self.end[rp] = self.end[nid]

    def numbers(self, nid: int, raw: dict) -> dict[str, float]:
        texts = _TEXT_KEYS.intersection(raw)
        if not _TEXT_TYPES.issuperset(map(type, map(raw.__getitem__, texts))):
            key = next(key for key in texts if type(raw[key]) not in _TEXT_TYPES)
            raise self.fail(nid, f'"{key}" is not a string: {_show(raw[key])}')
        keys = _NUMERIC_KEYS.intersection(raw)
        values = list(map(raw.__getitem__, keys))
        # map() keeps the common case at C speed; the slow path below names the bad value.
        if _NUMBER_TYPES.issuperset(map(type, values)) and (
                self.finite or all(map(math.isfinite, values))):
            return dict(zip(keys, values))
        out = dict(zip(keys, values))
        for key, value in list(out.items()):
            if type(value) is int or (type(value) is float and math.isfinite(value)):
                continue
            if value is None:
                del out[key]
                continue
            raise self.fail(nid, f'"{key}" is not a number: {_show(value)}')
        return out

    def build(self) -> Plan:
        self.flatten()
        n = len(self.raws)
        raws, num = self.raws, self.num

        analyzed = ["Actual Rows" in k or "Actual Loops" in k for k in num]
        loops = [float(k.get("Actual Loops", 1.0 if a else 0.0)) for k, a in zip(num, analyzed)]

        # Processes sharing each node: a Gather's launched workers plus the leader, passed down
        # its subtree but, as PEV2 does, not into CTEs, InitPlans or SubPlans, whose loops
        # already count every execution. A Gather that launched none leaves the leader alone.
        # Without ANALYZE there is no launched count; the planned one says how work is split.
        launched_above = [0] * n
        for nid in range(1, n):
            rp = self.raw_parent[nid]
            rel = raws[nid].get("Parent Relationship")
            if rel in ("InitPlan", "SubPlan") or _is_cte(raws[nid]):
                continue
            own = None
            if raws[rp]["Node Type"] in _GATHERS:
                own = num[rp].get("Workers Launched")
                if own is None and not analyzed[rp]:
                    own = num[rp].get("Workers Planned")
            launched_above[nid] = int(own) if own else launched_above[rp]
        workers = [w + 1 for w in launched_above]

        inclusive: list[float | None] = [None] * n
        for nid, k in enumerate(num):
            total = k.get("Actual Total Time")
            if total is not None:
                inclusive[nid] = total * loops[nid] / workers[nid]

        exclusive: list[float | None] = [None] * n
        exclusive_cost = [0.0] * n
        for nid in range(n):
            raw_kids = self.raw_children[nid]
            cost = num[nid].get("Total Cost", 0.0)
            for kid in raw_kids:
                cost -= num[kid].get("Total Cost", 0.0)
            exclusive_cost[nid] = max(cost, 0.0)
            if inclusive[nid] is None:
                continue
            is_result = raws[nid]["Node Type"] == "Result"
            spent = inclusive[nid]
            for kid in self.children[nid]:
                if inclusive[kid] is None:
                    continue
                if raws[kid].get("Parent Relationship") == "InitPlan" and not is_result:
                    continue  # its time is inside whichever node used its value; see below
                spent -= inclusive[kid]
            exclusive[nid] = max(spent, 0.0)

        if any(x is not None for x in exclusive):
            self.correct_ctes(inclusive, exclusive)
            self.correct_initplans(inclusive, exclusive)

        return self.assemble(analyzed, loops, workers, inclusive, exclusive, exclusive_cost)

    def correct_ctes(self, inclusive: list, exclusive: list) -> None:
        """A CTE runs inside the CTE Scans that read it: take its time out of them, shared in
        proportion to each scan's own time (PEV2's fixCteScansDuration)."""
        scans: dict[str, list[int]] = {}
        ctes = []
        for nid, raw in enumerate(self.raws):
            if raw["Node Type"] == "CTE Scan" and exclusive[nid]:
                scans.setdefault(str(raw.get("CTE Name")), []).append(nid)
            elif self.raw_parent[nid] is not None and self.parent[nid] is None:
                ctes.append(nid)
        for cte in ctes:
            spent = inclusive[cte]
            readers = scans.get(str(self.raws[cte].get("Subplan Name", ""))[4:], [])
            if not spent or not readers:
                continue
            pool = sum(exclusive[s] for s in readers)
            share = min(spent / pool, 1.0)
            for s in readers:
                exclusive[s] = max(exclusive[s] - exclusive[s] * share, 0.0)

    def correct_initplans(self, inclusive: list, exclusive: list) -> None:
        """An InitPlan runs once, inside the first node that needs its value; that node's time
        (and its ancestors') includes the InitPlan's. Take it out of the node that references
        the InitPlan's output, or failing that the one whose own time could hold it."""
        initplans = [
            nid for nid, raw in enumerate(self.raws)
            if raw.get("Parent Relationship") == "InitPlan" and self.parent[nid] is not None
            and inclusive[nid] and self.raws[self.parent[nid]]["Node Type"] != "Result"
        ]
        if not initplans:
            return
        # One pass over the string attributes of the nodes that can use an InitPlan (those under
        # the nodes InitPlans hang from), indexing which parameters each mentions.
        scan = [False] * len(self.raws)
        for ip in initplans:
            owner = self.parent[ip]
            if not scan[owner]:
                scan[owner : self.end[owner]] = [True] * (self.end[owner] - owner)
        refs: dict[str, list[int]] = {}  # "$1" / "InitPlan 1" -> nodes mentioning it
        for nid, raw in enumerate(self.raws):
            if not scan[nid]:
                continue
            found = set()
            for key, value in raw.items():
                kind = type(value)
                if kind is str:
                    if ("$" in value or "InitPlan" in value) and key != "Subplan Name":
                        found.update(_PARAM_REF.findall(value))
                elif kind is list and key != "Plans":
                    for item in value:
                        if type(item) is str and ("$" in item or "InitPlan" in item):
                            found.update(_PARAM_REF.findall(item))
            for token in found:
                refs.setdefault(token, []).append(nid)

        for ip in initplans:
            name = str(self.raws[ip].get("Subplan Name") or "")
            tokens = re.findall(r"\$\d+", name) or re.findall(r"InitPlan \d+", name)
            owner = self.parent[ip]
            lo, hi = owner, self.end[owner]
            ip_lo, ip_hi = ip, self.end[ip]

            def inside(nid: int) -> bool:
                return lo <= nid < hi and not ip_lo <= nid < ip_hi and exclusive[nid] is not None

            users = sorted({nid for t in tokens for nid in refs.get(t, ()) if inside(nid)},
                           key=lambda nid: -exclusive[nid])
            remaining = inclusive[ip]
            if users and exclusive[users[0]] >= remaining:
                exclusive[users[0]] -= remaining
                continue
            others = sorted((nid for nid in range(lo, hi) if inside(nid)),
                            key=lambda nid: -exclusive[nid])
            if others and exclusive[others[0]] >= remaining:
                exclusive[others[0]] -= remaining
                continue
            for nid in users + [o for o in others if o not in users]:
                take = min(exclusive[nid], remaining)
                exclusive[nid] -= take
                remaining -= take
                if remaining <= 0:
                    break

    def assemble(self, analyzed, loops, workers, inclusive, exclusive, exclusive_cost) -> Plan:
        doc, raws, num = self.doc, self.raws, self.num
        has_timing = any(x is not None for x in inclusive)
        planning = self.top_number("Planning Time")
        execution = self.top_number("Execution Time")
        total = execution if execution is not None else inclusive[0]

        buffer_fields = [field for field, _ in _BUFFER_KEYS]
        buffers = [_buffer_tuple(k) for k in num]
        nodes = []
        for nid, raw in enumerate(raws):
            k = num[nid]
            own = buffers[nid]
            for kid in self.raw_children[nid]:
                # PEV2 leaves InitPlans, SubPlans and CTEs in their parent's buffers.
                if "Subplan Name" not in raws[kid]:
                    own = tuple(map(operator.sub, own, buffers[kid]))
            if min(own) < 0:
                own = tuple(v if v > 0 else 0 for v in own)
            attrs = dict(raw)
            attrs.pop("Plans", None)

            node_type = raw["Node Type"]
            plan_rows = float(k.get("Plan Rows", 0.0))
            is_analyzed = analyzed[nid]
            n_loops = loops[nid]
            never = is_analyzed and n_loops == 0
            actual = float(k.get("Actual Rows", 0.0)) if is_analyzed else None
            mult = n_loops if is_analyzed else 1.0
            factor = direction = None
            if (is_analyzed and not never and actual and plan_rows
                    and node_type not in _NO_ESTIMATE):
                if actual > plan_rows:
                    factor, direction = actual / plan_rows, "under"
                elif actual < plan_rows:
                    factor, direction = plan_rows / actual, "over"
                else:
                    factor = 1.0
            excl = exclusive[nid]
            nodes.append(PlanNode(
                id=nid,
                parent=self.parent[nid],
                children=self.children[nid],
                depth=self.depth[nid],
                node_type=_display_type(raw, node_type),
                raw_node_type=node_type,
                parent_relationship=raw.get("Parent Relationship"),
                subplan_name=raw.get("Subplan Name"),
                relation=raw.get("Relation Name"),
                schema_name=raw.get("Schema"),
                alias=raw.get("Alias"),
                index_name=raw.get("Index Name"),
                startup_cost=float(k.get("Startup Cost", 0.0)),
                total_cost=float(k.get("Total Cost", 0.0)),
                exclusive_cost=exclusive_cost[nid],
                plan_rows=plan_rows,
                plan_width=int(k.get("Plan Width", 0)),
                analyzed=is_analyzed,
                never_executed=never,
                loops=n_loops,
                actual_rows=actual,
                actual_rows_total=None if actual is None else actual * n_loops,
                plan_rows_total=plan_rows * mult,
                rows_removed_by_filter=k.get("Rows Removed by Filter", 0.0) * mult,
                rows_removed_by_join_filter=k.get("Rows Removed by Join Filter", 0.0) * mult,
                rows_removed_by_index_recheck=k.get("Rows Removed by Index Recheck", 0.0) * mult,
                estimate_factor=factor,
                estimate_direction=direction,
                workers=workers[nid],
                workers_planned=_opt_int(k.get("Workers Planned")),
                workers_launched=_opt_int(k.get("Workers Launched")),
                inclusive_ms=inclusive[nid],
                exclusive_ms=excl,
                exclusive_pct=(excl / total * 100.0) if excl is not None and total else None,
                buffers=dict(zip(buffer_fields, buffers[nid])),
                exclusive_buffers=dict(zip(buffer_fields, own)),
                attrs=attrs,
            ))

        return Plan(
            query_text=_opt_str(doc.get("Query Text")),
            query_identifier=self.query_identifier(),
            analyzed=analyzed[0],
            has_timing=has_timing,
            has_buffers=any(key in raws[0] for _, key in _BUFFER_KEYS),
            planning_time_ms=planning,
            execution_time_ms=execution,
            total_ms=total,
            triggers=self.triggers(),
            jit=self.jit(),
            jit_total_ms=self.jit_total(),
            settings=self.settings(),
            serialization_ms=self.serialization(),
            nodes=nodes,
            raw_size=self.raw_size,
        )

    # -- top-level sections ------------------------------------------------------------------

    def top_number(self, key: str, section: dict | None = None, where: str = "") -> float | None:
        holder = self.doc if section is None else section
        value = holder.get(key)
        if value is None:
            return None
        if type(value) is int or (type(value) is float and math.isfinite(value)):
            return float(value)
        raise InputError(f'malformed plan: "{where}{key}" is not a number: {_show(value)}')

    def query_identifier(self) -> int | None:
        value = self.doc.get("Query Identifier")
        if value is None:
            return None
        if type(value) is int:
            return value
        if type(value) is float and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise InputError(f'malformed plan: "Query Identifier" is not an integer: {_show(value)}')

    def triggers(self) -> list[Trigger]:
        raw = self.doc.get("Triggers")
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise InputError('malformed plan: "Triggers" is not an array')
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise InputError(f'malformed plan: trigger {i} is not an object')
            where = f"Triggers[{i}]."
            calls = self.top_number("Calls", item, where)
            out.append(Trigger(
                name=str(item.get("Trigger Name", "")),
                relation=_opt_str(item.get("Relation")),
                constraint_name=_opt_str(item.get("Constraint Name")),
                time_ms=self.top_number("Time", item, where),
                calls=None if calls is None else int(calls),
            ))
        return out

    def jit(self) -> dict | None:
        raw = self.doc.get("JIT")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise InputError('malformed plan: "JIT" is not an object')
        return raw

    def jit_total(self) -> float | None:
        timing = (self.jit() or {}).get("Timing")
        if not isinstance(timing, dict):
            return None
        total = self.top_number("Total", timing, "JIT.Timing.")
        if total is not None:
            return total
        # PG 17 turned Generation into {"Deform", "Total"}; sum the phases when Total is absent.
        parts = 0.0
        for phase in ("Generation", "Inlining", "Optimization", "Emission"):
            value = timing.get(phase)
            if isinstance(value, dict):
                value = value.get("Total")
            if type(value) in (int, float):
                parts += value
        return parts

    def settings(self) -> dict[str, Any]:
        raw = self.doc.get("Settings")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise InputError('malformed plan: "Settings" is not an object')
        return raw

    def serialization(self) -> float | None:
        raw = self.doc.get("Serialization")
        if not isinstance(raw, dict):
            return None
        return self.top_number("Time", raw, "Serialization.")


def _buffer_tuple(numbers: dict[str, float]) -> tuple[int, ...]:
    try:
        values = _buffer_values(numbers)
    except KeyError:  # no BUFFERS, or a partial set
        if "Shared Hit Blocks" not in numbers and "Temp Read Blocks" not in numbers:
            return _BUFFER_ZERO
        values = tuple(numbers.get(key, 0) for _, key in _BUFFER_KEYS)
    if float in set(map(type, values)):
        values = tuple(map(int, values))
    return values


def _is_cte(raw: dict) -> bool:
    name = raw.get("Subplan Name")
    return (raw.get("Parent Relationship") == "InitPlan" and isinstance(name, str)
            and name.startswith("CTE "))


def _opt_int(value: float | None) -> int | None:
    return None if value is None else int(value)
