"""What a rewrite opportunity is, what it finds, and what a proposal must carry.

An opportunity is documented like an insight rule (tools/explain/insights/base.py): what it
detects, why it matters, the fix, and examples that are also its tests. Unlike an insight it
does not stop at advice: each finding carries candidate rewrites as SQL and as Ecto, and every
candidate is run against the real database before anyone sees it as a proposal.

A candidate's `status` is the verdict of that run:
- "proposed": same rows as the original on the same params, and faster (by MIN_SPEEDUP);
- "rejected": different rows, an error, or no faster - `reason` says which;
- "behaviour-change": not equivalent in general (`changes_results` says when it differs); shown
  because it may be what the query was meant to do, never proposed as an optimisation;
- "unverified": nothing could be run (no database, or `$n` without params).
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, ClassVar

from pglast import ast
from pydantic import BaseModel, Field

from tools.explain.plan import Plan, PlanNode
from tools.rewrites.catalog import Table
from tools.rewrites.sql import sources

MIN_SPEEDUP = 1.2  # below this a rewrite is noise on a shared machine, not a gain


class Measurement(BaseModel):
    explain_ms: float | None = None  # Execution Time under EXPLAIN ANALYZE (summed over runs; best of repeats)
    planning_ms: float | None = None
    fetch_ms: float | None = None  # wall time to run it and fetch every row from this client
    rows: int | None = None
    runs: int = 1  # statements it takes (N for a query run once per group)
    bytes: int | None = None  # sum of pg_column_size of the rows, when asked for
    plan_summary: str | None = None  # the top plan nodes, e.g. "Hash Anti Join <- Seq Scan on orders"


class Candidate(BaseModel):
    label: str
    sql: str
    params: list[Any] = Field(default_factory=list)  # as run (display form)
    ecto: str = ""
    semantics: str = ""  # why it returns the same rows
    changes_results: str | None = None  # when it does not: it is then never proposed
    compare: str = "unordered"  # "ordered" when the original's ORDER BY is total
    keep_columns: list[int] | None = None  # a projection of the original's columns (by position)
    status: str = "unverified"
    reason: str = ""
    same_rows: bool | None = None
    difference: str | None = None
    before: Measurement | None = None
    after: Measurement | None = None
    speedup: float | None = None
    basis: str | None = None  # what the speedup compares: "execution time", "wall time" ...
    notes: list[str] = Field(default_factory=list)


class Finding(BaseModel):
    id: str
    title: str
    evidence: str
    relation: str | None = None
    node: int | None = None  # plan node the evidence points at
    candidates: list[Candidate] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        proposed = [c for c in self.candidates if c.status == "proposed"]
        return max(proposed, key=lambda c: c.speedup or 0.0) if proposed else None

    @property
    def status(self) -> str:
        if self.best is not None:
            return "proposed"
        if any(c.status == "unverified" for c in self.candidates):
            return "unverified"
        return "rejected"


@dataclass
class Run:
    """One statement to execute: SQL with `$n`, and the Python values bound to it."""

    sql: str
    params: list[Any] | None = None


@dataclass
class Variant:
    """How to run one side of a comparison: one or several statements whose rows concatenate
    (several for a query the app runs once per group). `setup` computes params first: a
    keyset cursor needs the last row of the previous page."""

    runs: list[Run]
    setup: Callable[[Any], list[Run]] | None = None  # given a cursor, returns the runs to make

    @property
    def key(self) -> tuple:
        return tuple((r.sql, repr(r.params)) for r in self.runs) + ((id(self.setup),) if self.setup else ())


@dataclass
class Proposal:
    """A candidate with what verification needs beyond its display form."""

    candidate: Candidate
    variant: Variant
    reference: Variant | None = None  # what it must equal; the original query when None
    # Evidence queries returning one value, with the sentence it fills: {"nulls": (Run, "… {value:,} NULLs")}.
    probes: dict[str, tuple[Run, str]] = field(default_factory=dict)
    wants_bytes: bool = False


@dataclass
class Detected:
    finding: Finding
    proposals: list[Proposal]


@dataclass
class QueryContext:
    sql: str
    stmt: ast.SelectStmt  # never mutate: clone() before rewriting
    params: list[Any] | None
    plan: Plan | None
    tables: dict[str, Table]
    used_columns: set[str] | None = None  # columns the caller reads (for unused wide columns)
    group_values: list[Any] | None = None  # the groups an N+1 runs over (latest-per-group)
    # Runs a small read (a sample of ids) in the verification transaction; None without a database.
    fetch: Callable[[str, list | None], list[tuple]] | None = None

    def table(self, alias: str) -> Table | None:
        for src in sources(self.stmt):
            if src.alias == alias and src.relname:
                return self.tables.get(src.relname)
        return None

    def alias_tables(self) -> dict[str, Table]:
        return {s.alias: self.tables[s.relname] for s in sources(self.stmt)
                if s.relname and s.relname in self.tables}


@dataclass(frozen=True)
class Example:
    """A query the opportunity must (fires=True) or must not report, with the catalog facts
    (`tables`, see Table.from_spec) and optionally the plan it needs. `expect` are fragments
    that some candidate's SQL must contain."""

    sql: str
    fires: bool
    tables: dict[str, dict] = field(default_factory=dict)
    plan: dict | None = None
    params: list | None = None
    expect: list[str] = field(default_factory=list)
    note: str = ""


class Opportunity:
    id: ClassVar[str]
    title: ClassVar[str]
    detects: ClassVar[str]
    why: ClassVar[str]
    fix: ClassVar[str]
    examples: ClassVar[list[Example]] = []

    def find(self, q: QueryContext) -> list[Detected]:
        raise NotImplementedError

    @classmethod
    def doc(cls) -> dict[str, Any]:
        return {"id": cls.id, "title": cls.title, "detects": cls.detects, "why": cls.why, "fix": cls.fix,
                "thresholds": inspect.cleandoc(cls.__doc__ or "")}


# ---- plan helpers -----------------------------------------------------------------------------------

def subplans(plan: Plan | None) -> list[PlanNode]:
    """SubPlan roots (run per outer row), not InitPlans (run once)."""
    if plan is None:
        return []
    return [n for n in plan.nodes if n.parent_relationship == "SubPlan"]


def is_hashed(plan: Plan, sub: PlanNode) -> bool:
    """A hashed SubPlan runs its subquery once into a hash table: `(hashed SubPlan 1)`."""
    name = sub.subplan_name or ""
    for node in plan.nodes:
        for value in node.attrs.values():
            if isinstance(value, str) and f"hashed {name}" in value:
                return True
    return False


def plan_summary(plan: Plan | None, limit: int = 4) -> str | None:
    if plan is None or not plan.nodes:
        return None
    from tools.explain.insights.base import label

    return " -> ".join(label(n) for n in plan.nodes[:limit])


def fmt_ms(ms: float | None) -> str:
    from tools.explain.insights.base import fmt_ms as _fmt

    return _fmt(ms)


def sort_columns(stmt: ast.SelectStmt) -> list[tuple[str | None, str]] | None:
    """The ORDER BY as column references; None when any key is an expression."""
    from tools.rewrites.sql import colref

    keys = []
    for sort in stmt.sortClause or ():
        ref = colref(sort.node)
        if ref is None:
            return None
        keys.append(ref)
    return keys


def order_is_total(q: QueryContext, stmt: ast.SelectStmt | None = None) -> bool:
    """Does the ORDER BY fix the position of every row? It does when, for every table the
    query reads, the sort keys include a unique key of NOT NULL columns."""
    stmt = stmt or q.stmt
    keys = sort_columns(stmt)
    if not keys:
        return False
    srcs = sources(stmt)
    if not srcs or any(s.relname is None for s in srcs):
        return False
    for src in srcs:
        table = q.tables.get(src.relname or "")
        if table is None:
            return False
        cols = {c for a, c in keys if a in (src.alias, None)}
        if not table.is_unique(cols):
            return False
    return True


def compare_mode(q: QueryContext) -> str:
    return "ordered" if order_is_total(q) else "unordered"


def qualified(table: Table | None, column: str) -> str:
    return f"{table.name}.{column}" if table else column


def display_params(values: list | None) -> list:
    """Params as JSON can carry them (datetimes as ISO text, decimals as strings)."""
    def one(v: Any) -> Any:
        if isinstance(v, (dt.datetime, dt.date, dt.time)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, (bytes, memoryview)):
            return "\\x" + bytes(v).hex()
        if isinstance(v, (list, tuple)):
            return [one(x) for x in v]
        if hasattr(v, "obj"):  # psycopg Jsonb
            return v.obj
        return v
    return [one(v) for v in values or []]
