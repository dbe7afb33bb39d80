"""The cost of each query under a configuration of (hypothetical) indexes, cached.

A query's plan can only change with the indexes on the tables it reads, and in practice only
with those whose leading key it constrains, sorts or groups by (or whose partial predicate it
implies). So the cost of query q under configuration C is cached on (q, the part of C relevant
to q): the greedy search asks for thousands of configurations, but each query sees few distinct
ones (Kossmann et al. cache the same way, index-advisors.md §6).

Queries with params are explained with them (a custom plan, as Ecto's first executions get);
queries without params but with `$n` get the generic plan, PREPARE'd and EXECUTE'd with NULLs
under force_generic_plan on PostgreSQL 15 (tools.explain.runner._generic_plan). Each EXPLAIN is
re-planned from scratch: a cached generic plan would not notice a new hypothetical index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

import psycopg

from tools.explain.classify import Kind, Statement
from tools.explain.runner import _generic_plan
from tools.indexes.candidates import AccessKeys, IndexDef, QueryShape, strip_direction
from tools.indexes.catalog import norm_key


@dataclass
class Query:
    sql: str
    params: list[Any] | None
    calls: float
    statement: Statement
    shape: QueryShape
    # (schema, table) -> what the query asks of that table, merged over its occurrences
    keys: dict[tuple[str, str], AccessKeys] = field(default_factory=dict)
    total_ms: float | None = None
    base_cost: float = 0.0
    rows_written: float = 0.0  # estimated rows a write statement changes per call
    rows: dict[str, float] = field(default_factory=dict)  # relation name -> rows a scan returns per call

    @property
    def tables(self) -> set[tuple[str, str]]:
        return set(self.keys)

    @property
    def is_write(self) -> bool:
        return self.statement.kind is Kind.WRITE

    def label(self, width: int = 100) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= width else text[: width - 1] + "…"


def explain_doc(conn: psycopg.Connection, query: Query) -> dict:
    """The EXPLAIN (FORMAT JSON) document of the query's plan, without running it."""
    if query.params is None and query.statement.param_count > 0:
        row = _generic_plan(conn, query.statement)
    else:
        with psycopg.RawCursor(conn) as cur:
            cur.execute(f"EXPLAIN (FORMAT JSON) {query.statement.sql}", query.params or None)
            row = cur.fetchone()
    raw = row[0]
    doc = json.loads(raw) if isinstance(raw, str) else raw
    return doc[0] if isinstance(doc, list) else doc


def index_names(plan: dict) -> set[str]:
    found: set[str] = set()
    stack = [plan]
    while stack:
        node = stack.pop()
        name = node.get("Index Name")
        if name:
            found.add(name)
        stack.extend(node.get("Plans", ()))
    return found


def rows_read(plan: dict) -> dict[str, float]:
    """Per relation name, the most rows one scan of it returns per call (estimates). Under a
    LIMIT, at most the limit: today a Sort may read everything below it, but an index that
    delivers the order stops there."""
    out: dict[str, float] = {}
    stack: list[tuple[dict, float]] = [(plan, float("inf"))]
    while stack:
        node, cap = stack.pop()
        if node.get("Node Type") == "Limit":
            cap = min(cap, float(node.get("Plan Rows", cap)))
        rel = node.get("Relation Name")
        if rel and node.get("Node Type", "").endswith("Scan"):
            out[rel] = max(out.get(rel, 0.0), min(float(node.get("Plan Rows", 0.0)), cap))
        stack.extend((kid, cap) for kid in node.get("Plans", ()))
    return out


def rows_changed(plan: dict) -> float:
    """Rows a write statement changes per call, as the planner estimates them."""
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Node Type") == "ModifyTable":
            kids = node.get("Plans") or []
            return float(kids[0].get("Plan Rows", 1.0)) if kids else float(node.get("Plan Rows", 1.0))
        stack.extend(node.get("Plans", ()))
    return float(plan.get("Plan Rows", 1.0))


def relevant(idx: IndexDef, query: Query) -> bool:
    keys = query.keys.get((idx.schema, idx.table))
    if keys is None:
        return False
    if idx.lead not in {norm_key(strip_direction(k)) for k in keys.indexable()}:
        return False
    if idx.where:
        # A partial index serves only queries whose WHERE implies its predicate; ours are
        # conjunctions of the literal predicates some query carries.
        mine = {norm_key(p) for _, p in keys.literal_predicates}
        return all(norm_key(part) in mine for part in idx.where.split(" AND "))
    return True


class Evaluator:
    """cost(query, configuration), with the configuration narrowed to what can matter."""

    def __init__(self, conn: psycopg.Connection, backend, queries: list[Query], *, by_table: bool = False) -> None:
        self.conn = conn
        self.by_table = by_table  # every index on a query's tables counts (to compare other advisors' picks)
        self.backend = backend
        self.queries = queries
        self.cache: dict[tuple[int, frozenset[IndexDef], tuple[str, ...]], tuple[float, frozenset[IndexDef]]] = {}
        self.explains = 0
        self._relevant: dict[tuple[IndexDef, int], bool] = {}

    def is_relevant(self, idx: IndexDef, qi: int) -> bool:
        key = (idx, qi)
        if key not in self._relevant:
            query = self.queries[qi]
            self._relevant[key] = ((idx.schema, idx.table) in query.keys if self.by_table
                                   else relevant(idx, query))
        return self._relevant[key]

    def serves(self, idx: IndexDef) -> list[int]:
        return [qi for qi in range(len(self.queries)) if self.is_relevant(idx, qi)]

    def _eval(self, qi: int, config: Iterable[IndexDef], hidden: tuple[str, ...] = ()
              ) -> tuple[float, frozenset[IndexDef]]:
        query = self.queries[qi]
        rel = frozenset(i for i in config if self.is_relevant(i, qi))
        key = (qi, rel, hidden)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        self.backend.activate(rel, query.tables)
        if hidden:
            self.backend.hide(list(hidden))
        try:
            doc = explain_doc(self.conn, query)
        finally:
            if hidden:
                self.backend.unhide()
            if hasattr(self.backend, "deactivate"):
                self.backend.deactivate()
        self.explains += 1
        names = self.backend.names()
        used = frozenset(names[n] for n in index_names(doc["Plan"]) if n in names)
        result = (float(doc["Plan"]["Total Cost"]), used)
        self.cache[key] = result
        return result

    def cost(self, qi: int, config: Iterable[IndexDef], hidden: tuple[str, ...] = ()) -> float:
        return self._eval(qi, config, hidden)[0]

    def used(self, qi: int, config: Iterable[IndexDef]) -> frozenset[IndexDef]:
        return self._eval(qi, config)[1]

    def weighted(self, config: Iterable[IndexDef], queries: Iterable[int] | None = None,
                 hidden: tuple[str, ...] = ()) -> float:
        config = list(config)
        qis = range(len(self.queries)) if queries is None else queries
        return sum(self.queries[qi].calls * self.cost(qi, config, hidden) for qi in qis)
