"""What a rule is, and the measurements every rule shares.

A rule is documented the way ruff documents its rules: what it detects, why it matters, the fix
in general, and examples that are also its tests. Thresholds live in each rule's docstring.

Scores follow pgMustard: the share of the query's total time the fix could save, 0..1. Plans
without timing (no ANALYZE, or TIMING OFF) still get a share, from the node's exclusive buffers
or, without those, its exclusive cost: a worse guess, but one that still ranks findings.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator

from tools.explain.ecto_fix import index_fix, indexes_fix
from tools.explain.exprs import (
    BOOLEAN,
    CONTAINS,
    EQUALITY,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    JOIN,
    LIKE,
    RANGE,
    ColumnUse,
    index_columns,
    partial_predicates,
)
from tools.explain.findings import Fix, Insight
from tools.explain.plan import Plan, PlanNode

INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}
JOIN_TYPES = {"Nested Loop", "Hash Join", "Merge Join"}


@dataclass(frozen=True)
class Example:
    """A plan the rule must (fires=True) or must not (fires=False) report.

    `relation` and `columns`, when given, are what the first insight must name.
    """

    plan: dict | list
    fires: bool
    columns: list[str] = field(default_factory=list)
    relation: str | None = None
    note: str = ""


class Rule:
    id: ClassVar[str]
    title: ClassVar[str]
    detects: ClassVar[str]
    why: ClassVar[str]
    fix: ClassVar[str]
    examples: ClassVar[list[Example]] = []

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        """Insights on `plan`. A rule may skip, before any costly work (parsing expressions,
        writing fixes), a finding whose score cannot reach `min_score`: on plans of thousands of
        nodes that is most of them."""
        raise NotImplementedError

    @classmethod
    def doc(cls) -> dict[str, Any]:
        return {
            "id": cls.id,
            "title": cls.title,
            "detects": cls.detects,
            "why": cls.why,
            "fix": cls.fix,
            "thresholds": inspect.cleandoc(cls.__doc__ or ""),
        }

    def insight(
        self,
        *,
        title: str,
        score: float,
        evidence: str,
        node: PlanNode | None = None,
        relation: str | None = None,
        columns: Iterable[str] = (),
        fix: Fix | None = None,
    ) -> Insight:
        return Insight(
            id=self.id,
            title=title,
            score=clamp(score),
            node=node.id if node is not None else None,
            relation=relation if relation is not None else (node.relation if node is not None else None),
            columns=list(dict.fromkeys(columns)),
            evidence=evidence,
            fix=fix or Fix(),
        )


# -- measuring ------------------------------------------------------------------------------


def clamp(x: float) -> float:
    if x != x:  # NaN from a 0/0 somewhere upstream is no reason to crash the ranking
        return 0.0
    return max(0.0, min(1.0, float(x)))


def total_ms(plan: Plan) -> float | None:
    """The query's runtime: Execution Time (which includes triggers and JIT), else the root's
    time plus trigger time, because triggers run outside every plan node."""
    if plan.execution_time_ms:
        return plan.execution_time_ms
    base = plan.total_ms
    if base is None and plan.nodes and plan.root.inclusive_ms is not None:
        base = plan.root.inclusive_ms
    if base is None:
        return None
    return base + sum(t.time_ms or 0.0 for t in plan.triggers)


def share(plan: Plan, node: PlanNode, *, inclusive: bool = False) -> tuple[float, str]:
    """The node's share of the query, and what it was measured by ("time", "buffers", "cost")."""
    total = total_ms(plan)
    ms = node.inclusive_ms if inclusive else node.exclusive_ms
    if total and total > 0 and ms is not None:
        return clamp(ms / total), "time"
    root_blocks = _root_blocks(plan)
    if root_blocks > 0:
        blocks = node.buffers.total_read if inclusive else node.exclusive_buffers.total_read
        return clamp(blocks / root_blocks), "buffers"
    root_cost = _root_cost(plan)
    if root_cost > 0:
        cost = node.total_cost if inclusive else node.exclusive_cost
        return clamp(cost / root_cost), "cost"
    return 0.0, "cost"


def _root_blocks(plan: Plan) -> int:
    if not plan.nodes:
        return 0
    return max(plan.root.buffers.total_read, sum(n.exclusive_buffers.total_read for n in plan.nodes))


def _root_cost(plan: Plan) -> float:
    if not plan.nodes:
        return 0.0
    return max(plan.root.total_cost, sum(n.exclusive_cost for n in plan.nodes))


def rows_seen(node: PlanNode) -> float:
    """Rows the node looked at: returned plus discarded by its filters (totals over loops)."""
    return (node.actual_rows_total or 0.0) + node.rows_removed_by_filter + node.rows_removed_by_index_recheck


def removed_fraction(node: PlanNode) -> float:
    seen = (node.actual_rows_total or 0.0) + node.rows_removed_by_filter
    return node.rows_removed_by_filter / seen if seen > 0 else 0.0


def ancestors(plan: Plan, node: PlanNode) -> Iterator[PlanNode]:
    parent = plan.parent_of(node)
    while parent is not None:
        yield parent
        parent = plan.parent_of(parent)


def base_type(node: PlanNode) -> str:
    """The node type without the "Parallel " prefix a display name may carry."""
    raw = node.raw_node_type or node.node_type
    return raw.removeprefix("Parallel ")


def relations_below(plan: Plan, node: PlanNode) -> list[str]:
    found: list[str] = []
    for n in [node, *plan.descendants(node)]:
        if n.relation and n.relation not in found:
            found.append(n.relation)
    return found


def label(node: PlanNode) -> str:
    """How a person would point at the node: "Seq Scan on tickets t", "CTE Scan on q", "Hash Join"."""
    if node.relation:
        alias = f" {node.alias}" if node.alias and node.alias != node.relation else ""
        return f"{node.node_type} on {node.relation}{alias}"
    if node.index_name:
        return f"{node.node_type} on {node.index_name}"
    for key in ("CTE Name", "Function Name"):
        name = node.get(key)
        if isinstance(name, str) and name:
            return f"{node.node_type} on {name}"
    return node.node_type


# -- formatting -----------------------------------------------------------------------------


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "?"
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 1:
        return f"{ms:.1f} ms"
    return f"{ms:.3f} ms"


def fmt_rows(n: float | None) -> str:
    if n is None:
        return "?"
    if abs(n - round(n)) < 1e-9 or n >= 100:
        return f"{round(n):,}"
    return f"{n:,.2f}"


def fmt_pct(x: float) -> str:
    pct = x * 100
    if 0 < pct < 1:
        return "<1%"
    if 99 < pct < 100:
        return ">99%"
    return f"{pct:.0f}%"


def share_text(value: float, basis: str) -> str:
    """The share in words: "40% of the query time", or without timing "40% of the blocks read"."""
    what = {"time": "the query time", "buffers": "the blocks read", "cost": "the estimated cost"}[basis]
    return f"{fmt_pct(value)} of {what}"


# -- index proposals ------------------------------------------------------------------------


@dataclass
class IndexProposal:
    columns: list[str]  # the key columns (or expressions) the fix would index
    fix: Fix | None
    kind: str  # "btree", "partial", "trigram", "gin", "per-branch", or "none"


def propose_index(
    node: PlanNode,
    uses: list[ColumnUse],
    *,
    table: str | None = None,
    existing: Iterable[str] = (),
) -> IndexProposal:
    """The index that would let the scan of `node` find its rows instead of discarding them.

    Equality columns lead, then one range column; IS NULL tests become the partial-index WHERE.
    Patterns (LIKE, regex) get a trigram GIN index and containment (`@>`, `&&`) a GIN index when
    nothing better exists. OR-only conditions get one index per branch, for a BitmapOr.
    `existing` are the columns an index already serves: proposing those again gains nothing.
    """
    table = table or node.relation
    if not table:
        return IndexProposal([u.column for u in uses], None, "none")
    prefix = node.schema_name
    keys = index_columns(uses)
    where = " AND ".join(partial_predicates(uses)) or None
    existing = list(existing)
    if keys and not set(keys) <= set(existing):
        fix = index_fix(table, keys, where=where, prefix=prefix)
        return IndexProposal(keys, fix, "partial" if where else "btree")
    if where and not keys:
        null_col = next(u.column for u in uses if u.role in (IS_NULL, IS_NOT_NULL) and not u.in_or)
        if null_col not in existing:
            fix = index_fix(table, [null_col], where=where, prefix=prefix)
            return IndexProposal([null_col], fix, "partial")
    patterns = [u for u in uses if u.role == LIKE and not u.in_or]
    if patterns:
        col = patterns[0].column
        key = f"{col} gin_trgm_ops"
        fix = index_fix(
            table,
            [key],
            using="gin",
            prefix=prefix,
            extra_sql=["CREATE EXTENSION IF NOT EXISTS pg_trgm;"],
            comment=(
                "A trigram index serves LIKE '%...%', ILIKE and regex matches. It needs pg_trgm:\n"
                'execute "CREATE EXTENSION IF NOT EXISTS pg_trgm", "DROP EXTENSION IF EXISTS pg_trgm"\n'
                "in an earlier (transactional) migration."
            ),
        )
        return IndexProposal([col], fix, "trigram")
    contains = [u for u in uses if u.role == CONTAINS and not u.in_or]
    if contains:
        col = contains[0].column
        return IndexProposal([col], index_fix(table, [col], using="gin", prefix=prefix), "gin")
    branch_cols = [u.column for u in uses if u.in_or and u.role in (EQUALITY, IN, RANGE, BOOLEAN)]
    branch_cols = [c for c in dict.fromkeys(branch_cols) if c not in existing]
    every_branch_indexable = all(u.role in (EQUALITY, IN, RANGE, BOOLEAN) for u in uses if u.in_or)
    if branch_cols and every_branch_indexable:
        specs = [dict(table=table, columns=[c], prefix=prefix) for c in branch_cols]
        fix = indexes_fix(specs, comment="one index per OR branch; PostgreSQL combines them with a BitmapOr")
        return IndexProposal(branch_cols, fix, "per-branch")
    return IndexProposal([u.column for u in uses if u.role != JOIN], None, "none")


def involved_columns(proposal: IndexProposal, uses: list[ColumnUse]) -> list[str]:
    """The proposal's key columns first, then every other column the condition mentions."""
    out = list(proposal.columns)
    for use in uses:
        if use.role != JOIN and use.column not in out:
            out.append(use.column)
    return out
