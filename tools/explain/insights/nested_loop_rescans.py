from __future__ import annotations

from typing import Iterable

from tools.explain.exprs import parse_condition
from tools.explain.findings import Insight
from tools.explain.insights.base import (
    INDEX_SCANS,
    Example,
    Rule,
    base_type,
    clamp,
    fmt_ms,
    fmt_pct,
    fmt_rows,
    involved_columns,
    label,
    propose_index,
    share,
    total_ms,
)
from tools.explain.plan import Plan, PlanNode

MIN_LOOPS = 100
MIN_WASTED_ROWS = 10_000
_WRAPPERS = {"Materialize", "Memoize", "Result"}


class NestedLoopRescans(Rule):
    """Fires on a Nested Loop whose inner side

    - ran at least 100 times (Actual Loops of the inner node), and
    - is not an index lookup: no Index, Index Only or Bitmap scan anywhere in it (a Seq Scan,
      possibly under a Materialize; a Function or CTE Scan), and
    - made the join discard at least 10,000 rows over all loops (Rows Removed by Join Filter on
      the Nested Loop, plus rows the inner scan's own Filter removed).

    Index-driven inner sides are left to inefficient-index and row-misestimate.

    Score: (the Nested Loop's own time + the inner side's time) x the share of inner rows the
    join discarded / the query's total time: with an index on the join key the inner side
    would return only matching rows. Without timing, the same nodes' share of blocks or cost.
    """

    id = "nested-loop-rescans"
    title = "Nested loop re-scans its inner side"
    detects = "A nested loop that re-reads a whole table (or a materialised copy) for every outer row."
    why = (
        "Without an index on the join key, each outer row makes the inner side produce all of "
        "its rows again, and the join discards almost all of them: the work is outer rows x "
        "inner rows, which explodes as either table grows."
    )
    fix = (
        "Index the inner table's join columns so each loop becomes an index lookup; if the "
        "outer side was expected to be tiny, fix that estimate so the planner picks a hash join."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Nested Loop", "Parallel Aware": False, "Join Type": "Inner",
                    "Startup Cost": 0.0, "Total Cost": 90000.0, "Plan Rows": 1000, "Plan Width": 80,
                    "Actual Startup Time": 0.1, "Actual Total Time": 950.0, "Actual Rows": 1000, "Actual Loops": 1,
                    "Join Filter": "(o.customer_id = c.id)", "Rows Removed by Join Filter": 4999000,
                    "Plans": [
                        {
                            "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                            "Relation Name": "customers", "Alias": "c", "Startup Cost": 0.0, "Total Cost": 20.0,
                            "Plan Rows": 1000, "Plan Width": 40, "Actual Startup Time": 0.01,
                            "Actual Total Time": 0.3, "Actual Rows": 1000, "Actual Loops": 1,
                        },
                        {
                            "Node Type": "Materialize", "Parent Relationship": "Inner", "Parallel Aware": False,
                            "Startup Cost": 0.0, "Total Cost": 120.0, "Plan Rows": 5000, "Plan Width": 40,
                            "Actual Startup Time": 0.0, "Actual Total Time": 0.2, "Actual Rows": 5000,
                            "Actual Loops": 1000,
                            "Plans": [{
                                "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                                "Relation Name": "orders", "Alias": "o", "Startup Cost": 0.0, "Total Cost": 95.0,
                                "Plan Rows": 5000, "Plan Width": 40, "Actual Startup Time": 0.01,
                                "Actual Total Time": 1.5, "Actual Rows": 5000, "Actual Loops": 1,
                            }],
                        },
                    ],
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 951.0,
            }],
            fires=True, relation="orders", columns=["customer_id"],
        ),
        Example(
            note="the inner side is an index lookup",
            plan=[{
                "Plan": {
                    "Node Type": "Nested Loop", "Parallel Aware": False, "Join Type": "Inner",
                    "Startup Cost": 0.3, "Total Cost": 9000.0, "Plan Rows": 1000, "Plan Width": 80,
                    "Actual Startup Time": 0.1, "Actual Total Time": 9.0, "Actual Rows": 1000, "Actual Loops": 1,
                    "Plans": [
                        {
                            "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                            "Relation Name": "customers", "Alias": "c", "Startup Cost": 0.0, "Total Cost": 20.0,
                            "Plan Rows": 1000, "Plan Width": 40, "Actual Startup Time": 0.01,
                            "Actual Total Time": 0.3, "Actual Rows": 1000, "Actual Loops": 1,
                        },
                        {
                            "Node Type": "Index Scan", "Parent Relationship": "Inner", "Parallel Aware": False,
                            "Scan Direction": "Forward", "Index Name": "orders_customer_id_index",
                            "Relation Name": "orders", "Alias": "o", "Startup Cost": 0.28, "Total Cost": 8.3,
                            "Plan Rows": 1, "Plan Width": 40, "Actual Startup Time": 0.005,
                            "Actual Total Time": 0.006, "Actual Rows": 1, "Actual Loops": 1000,
                            "Index Cond": "(o.customer_id = c.id)",
                        },
                    ],
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 9.5,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        for node in plan.nodes:
            if node.raw_node_type != "Nested Loop" or not node.analyzed or node.never_executed:
                continue
            children = plan.children(node)
            fallback = children[1] if len(children) > 1 else None
            inner = next((c for c in children if c.parent_relationship == "Inner"), fallback)
            if inner is None or inner.loops < MIN_LOOPS:
                continue
            core = inner
            while core.raw_node_type in _WRAPPERS and plan.children(core):
                core = plan.children(core)[0]
            if any(base_type(n) in INDEX_SCANS for n in [core, *plan.descendants(core)]):
                continue
            removed_join = node.rows_removed_by_join_filter
            removed_inner = core.rows_removed_by_filter
            wasted = removed_join + removed_inner
            if wasted < MIN_WASTED_ROWS:
                continue
            produced = (node.actual_rows_total or 0.0) + wasted
            fraction = wasted / produced if produced > 0 else 0.0
            part_share, basis = _share(plan, node, inner)
            ctx = dict(alias=core.alias, relation=core.relation)
            uses = parse_condition(node.get("Join Filter"), **ctx)
            uses += parse_condition(core.get("Filter"), **ctx)
            proposal = propose_index(core, uses) if core.relation else None
            columns = involved_columns(proposal, uses) if proposal else []
            ms = _ms(node, inner)
            took = f" The loop and its inner side took {fmt_ms(ms)}." if ms is not None else ""
            cond = node.get("Join Filter") or core.get("Filter")
            yield self.insight(
                title=f"Nested Loop re-ran {label(core)} {fmt_rows(inner.loops)} times",
                score=part_share * fraction,
                node=node,
                relation=core.relation,
                columns=columns,
                evidence=(
                    f"The inner side ({label(inner)}) ran {fmt_rows(inner.loops)} times and the join discarded "
                    f"{fmt_rows(wasted)} of the {fmt_rows(produced)} inner rows ({fmt_pct(fraction)})"
                    + (f" on {cond}" if cond else "")
                    + f".{took}"
                ),
                fix=proposal.fix if proposal else None,
            )


def _ms(node: PlanNode, inner: PlanNode) -> float | None:
    if node.exclusive_ms is None or inner.inclusive_ms is None:
        return None
    return node.exclusive_ms + inner.inclusive_ms


def _share(plan: Plan, node: PlanNode, inner: PlanNode) -> tuple[float, str]:
    total = total_ms(plan)
    ms = _ms(node, inner)
    if total and ms is not None:
        return clamp(ms / total), "time"
    own, basis = share(plan, node)
    sub, _ = share(plan, inner, inclusive=True)
    return clamp(own + sub), basis
