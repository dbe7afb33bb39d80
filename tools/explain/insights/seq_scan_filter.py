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
from tools.explain.plan import Plan

MIN_REMOVED_FRACTION = 0.5
MIN_REMOVED_ROWS = 1000


class SeqScanFilter(Rule):
    """Fires on a Seq Scan (parallel or not) with a Filter that

    - discarded at least 50% of the rows it read (PEV2's "Filter" badge turns orange at 50%,
      red at 90%), and
    - discarded at least 1,000 rows over all loops: below that an index rarely beats the scan.

    Needs ANALYZE (Rows Removed by Filter); plain EXPLAIN plans are skipped.

    Score: the scan's exclusive time x the share of rows discarded / the query's total time,
    since an index would read roughly the rows kept. Without timing the scan's share of the
    blocks read (or of the cost) stands in for its share of time.
    """

    id = "seq-scan-filter"
    title = "Sequential scan discards most rows"
    detects = "A sequential scan that reads a whole table and throws most of its rows away in a Filter."
    why = (
        "Every row of the table is read, and mostly discarded, on every execution; the time grows "
        "with the table, not with the rows the query needs. An index on the filtered columns "
        "reads only the matching rows."
    )
    fix = (
        "Index the filtered columns: equality columns first, then one range column; IS NULL "
        "tests become a partial index (`where:`), functions of a column an expression index, "
        "LIKE/regex a pg_trgm GIN index. Build it CONCURRENTLY, in its own migration."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "tickets",
                    "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 4082.0, "Plan Rows": 195,
                    "Plan Width": 43, "Actual Startup Time": 0.03, "Actual Total Time": 18.6,
                    "Actual Rows": 200, "Actual Loops": 1, "Filter": "(customer_id = 42)",
                    "Rows Removed by Filter": 199800,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 18.7,
            }],
            fires=True, relation="tickets", columns=["customer_id"],
        ),
        Example(
            note="equality first, the varchar cast looked through, IS NULL as a partial index",
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "tickets",
                    "Alias": "t", "Startup Cost": 0.0, "Total Cost": 5082.0, "Plan Rows": 20,
                    "Plan Width": 43, "Actual Startup Time": 0.03, "Actual Total Time": 25.0,
                    "Actual Rows": 12, "Actual Loops": 1,
                    "Filter": "((t.created_at >= '2024-01-01 00:00:00'::timestamp without time zone) "
                    "AND (t.deleted_at IS NULL) AND ((t.status)::text = 'open'::text))",
                    "Rows Removed by Filter": 199988,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 25.1,
            }],
            fires=True, relation="tickets", columns=["status", "created_at", "deleted_at"],
        ),
        Example(
            note="the filter keeps most rows: an index would not help",
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "tickets",
                    "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 4082.0, "Plan Rows": 190000,
                    "Plan Width": 43, "Actual Startup Time": 0.03, "Actual Total Time": 30.0,
                    "Actual Rows": 190000, "Actual Loops": 1, "Filter": "((status)::text <> 'spam'::text)",
                    "Rows Removed by Filter": 10000,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 38.0,
            }],
            fires=False,
        ),
        Example(
            note="a tiny table: discarding a few dozen rows costs nothing",
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "exam",
                    "Alias": "exam", "Startup Cost": 0.0, "Total Cost": 1.45, "Plan Rows": 1,
                    "Plan Width": 40, "Actual Startup Time": 0.005, "Actual Total Time": 0.009,
                    "Actual Rows": 1, "Actual Loops": 1, "Filter": "(id = 1)", "Rows Removed by Filter": 35,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 0.02,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        for node in plan.nodes:
            if base_type(node) != "Seq Scan" or not node.analyzed or node.never_executed:
                continue
            removed = node.rows_removed_by_filter
            fraction = removed_fraction(node)
            if removed < MIN_REMOVED_ROWS or fraction < MIN_REMOVED_FRACTION:
                continue
            node_share, basis = share(plan, node)
            score = node_share * fraction
            if score < min_score:
                continue
            condition = node.get("Filter")
            uses = parse_condition(condition, alias=node.alias, relation=node.relation)
            proposal = propose_index(node, uses)
            kept = node.actual_rows_total or 0.0
            loops = f" over {fmt_rows(node.loops)} loops" if node.loops > 1 else ""
            took = "; the scan is "
            if node.exclusive_ms is not None:
                took = f"; the scan took {fmt_ms(node.exclusive_ms)}, "
            involved = involved_columns(proposal, uses)
            cols = ", ".join(involved)
            yield self.insight(
                title=f"{label(node)} discards {fmt_pct(fraction)} of the rows it reads"
                + (f" (filter on {cols})" if cols else ""),
                score=score,
                node=node,
                columns=involved,
                evidence=(
                    f"{label(node)} read {fmt_rows(kept + removed)} rows{loops} and its Filter "
                    f"{condition} discarded {fmt_rows(removed)} of them ({fmt_pct(fraction)})"
                    f"{took}{share_text(node_share, basis)}."
                ),
                fix=proposal.fix,
            )
