from __future__ import annotations

from typing import Iterable

from tools.explain.exprs import parse_condition
from tools.explain.findings import Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    base_type,
    fmt_ms,
    fmt_pct,
    fmt_rows,
    involved_columns,
    label,
    propose_index,
    removed_fraction,
    share,
    share_text,
)
from tools.explain.plan import Plan, PlanNode

MIN_REMOVED_FRACTION = 0.5
MIN_REMOVED_ROWS = 500


class InefficientIndex(Rule):
    """Fires on an Index Scan, Index Only Scan or Bitmap Heap Scan whose Filter

    - discarded at least 50% of the rows the index led it to, and
    - discarded at least 500 rows over all loops. Lower than the sequential-scan threshold
      because each row an index scan discards was usually a random heap page read.

    The proposed index puts the equality columns of the Index Cond and of the Filter first, then
    one range column, so the index finds exactly the rows the Filter keeps. When the Filter only
    has conditions a btree cannot serve (`<>`, patterns under OR), the insight names the
    columns without an index fix.

    Score: the scan's time (a Bitmap Heap Scan's includes its Bitmap Index Scans) x the share of
    rows discarded / the query's total time; without timing, its share of blocks or cost.
    """

    id = "inefficient-index"
    title = "Index scan discards most of the rows it finds"
    detects = (
        "An index scan whose index narrows on some columns while a Filter on other columns "
        "discards most of the rows the index returned."
    )
    why = (
        "The index leads to many rows that are fetched from the table only to be thrown away; "
        "each fetch is a random read. An index that also covers the filtered columns finds the "
        "wanted rows directly."
    )
    fix = (
        "Create a multi-column index: the equality columns of the index condition and of the "
        "filter first, then the range column (or a partial index for constant conditions such "
        "as `deleted_at IS NULL`). The old single-column index may then be redundant."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Index Scan", "Parallel Aware": False, "Scan Direction": "Forward",
                    "Index Name": "tickets_customer_id_index", "Relation Name": "tickets", "Alias": "tickets",
                    "Startup Cost": 0.42, "Total Cost": 812.3, "Plan Rows": 12, "Plan Width": 43,
                    "Actual Startup Time": 0.04, "Actual Total Time": 9.8, "Actual Rows": 9, "Actual Loops": 1,
                    "Index Cond": "(customer_id = 42)",
                    "Filter": "((status)::text = 'open'::text)", "Rows Removed by Filter": 2191,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 9.9,
            }],
            fires=True, relation="tickets", columns=["customer_id", "status"],
        ),
        Example(
            note="a range in the Index Cond and an equality in the Filter: equality goes first",
            plan=[{
                "Plan": {
                    "Node Type": "Bitmap Heap Scan", "Parallel Aware": False, "Relation Name": "events",
                    "Alias": "e", "Startup Cost": 93.0, "Total Cost": 4210.0, "Plan Rows": 40, "Plan Width": 60,
                    "Actual Startup Time": 2.1, "Actual Total Time": 31.0, "Actual Rows": 35, "Actual Loops": 1,
                    "Recheck Cond": "(e.created_at >= '2024-06-01 00:00:00'::timestamp without time zone)",
                    "Rows Removed by Index Recheck": 0,
                    "Filter": "(e.account_id = 7)", "Rows Removed by Filter": 48210,
                    "Exact Heap Blocks": 1900, "Lossy Heap Blocks": 0,
                    "Plans": [{
                        "Node Type": "Bitmap Index Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Index Name": "events_created_at_index", "Startup Cost": 0.0, "Total Cost": 92.0,
                        "Plan Rows": 48000, "Plan Width": 0, "Actual Startup Time": 2.0, "Actual Total Time": 2.0,
                        "Actual Rows": 48245, "Actual Loops": 1,
                        "Index Cond": "(e.created_at >= '2024-06-01 00:00:00'::timestamp without time zone)",
                    }],
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 31.5,
            }],
            fires=True, relation="events", columns=["account_id", "created_at"],
        ),
        Example(
            note="the Filter discards a few rows only",
            plan=[{
                "Plan": {
                    "Node Type": "Index Scan", "Parallel Aware": False, "Scan Direction": "Forward",
                    "Index Name": "tickets_customer_id_index", "Relation Name": "tickets", "Alias": "tickets",
                    "Startup Cost": 0.42, "Total Cost": 812.3, "Plan Rows": 190, "Plan Width": 43,
                    "Actual Startup Time": 0.04, "Actual Total Time": 1.8, "Actual Rows": 190, "Actual Loops": 1,
                    "Index Cond": "(customer_id = 42)",
                    "Filter": "((status)::text <> 'spam'::text)", "Rows Removed by Filter": 10,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 1.9,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        for node in plan.nodes:
            kind = base_type(node)
            if kind not in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
                continue
            if not node.analyzed or node.never_executed:
                continue
            removed = node.rows_removed_by_filter
            fraction = removed_fraction(node)
            if removed < MIN_REMOVED_ROWS or fraction < MIN_REMOVED_FRACTION:
                continue
            index_conds = _index_conditions(plan, node)
            ctx = dict(alias=node.alias, relation=node.relation)
            index_uses = [u for cond in index_conds for u in parse_condition(cond, **ctx)]
            filter_cond = node.get("Filter")
            filter_uses = parse_condition(filter_cond, **ctx)
            existing = [u.column for u in index_uses]
            proposal = propose_index(node, index_uses + filter_uses, existing=existing)
            involved = involved_columns(proposal, index_uses + filter_uses)
            node_share, basis = share(plan, node, inclusive=kind == "Bitmap Heap Scan")
            ms = node.inclusive_ms if kind == "Bitmap Heap Scan" else node.exclusive_ms
            kept = node.actual_rows_total or 0.0
            via = f" via {node.index_name}" if node.index_name else ""
            index_text = f" found {fmt_rows(kept + removed)} rows{via}"
            if index_conds:
                index_text += f" ({' AND '.join(index_conds)})"
            took = f"; it took {fmt_ms(ms)}, " if ms is not None else "; it is "
            filter_cols = list(dict.fromkeys(u.column for u in filter_uses))
            yield self.insight(
                title=f"{label(node)} discards {fmt_pct(fraction)} of the rows its index finds"
                + (f" (filter on {', '.join(filter_cols)})" if filter_cols else ""),
                score=node_share * fraction,
                node=node,
                columns=involved,
                evidence=(
                    f"{label(node)}{index_text}, then its Filter {filter_cond} discarded "
                    f"{fmt_rows(removed)} of them ({fmt_pct(fraction)}){took}{share_text(node_share, basis)}."
                ),
                fix=proposal.fix,
            )


def _index_conditions(plan: Plan, node: PlanNode) -> list[str]:
    cond = node.get("Index Cond")
    if isinstance(cond, str):
        return [cond]
    # A Bitmap Heap Scan's Recheck Cond repeats its bitmap index scans' conditions; prefer
    # those, unless a BitmapOr makes them alternatives rather than a conjunction.
    conds: list[str] = []
    stack = list(plan.children(node))
    while stack:
        child = stack.pop()
        if child.raw_node_type == "BitmapOr":
            return []
        c = child.get("Index Cond")
        if isinstance(c, str):
            conds.append(c)
        stack.extend(plan.children(child))
    if conds:
        return conds
    recheck = node.get("Recheck Cond")
    return [recheck] if isinstance(recheck, str) else []
