from __future__ import annotations

from typing import Iterable

from tools.explain.ecto_fix import format_kb, parse_mem_setting, setting_fix, suggest_mem_kb
from tools.explain.exprs import JOIN, parse_condition
from tools.explain.findings import Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    base_type,
    fmt_ms,
    fmt_pct,
    fmt_rows,
    label,
    share,
    share_text,
)

BYTES_PER_PAGE = 80  # a TIDBitmap page entry and its hash slot, roughly
HEADROOM = 1.5


class LossyBitmap(Rule):
    """Fires on a Bitmap Heap Scan with `Lossy Heap Blocks` > 0 (pganalyze's threshold): the
    bitmap outgrew work_mem and degraded to one bit per page, so every row on those pages is
    re-checked against the condition.

    Score: the scan's time including its bitmap index scans x the wasted share / the query's
    total time. The wasted share is Rows Removed by Index Recheck over rows examined when the
    plan has it; otherwise half the lossy share of heap blocks. Without timing, the scan's share
    of blocks or cost stands in.

    Suggested work_mem: about 80 bytes per heap block in the bitmap (exact + lossy) x 1.5, at
    least double the current setting when known, rounded up to a power of two in MB.
    """

    id = "lossy-bitmap"
    title = "Bitmap heap scan went lossy"
    detects = (
        "A bitmap heap scan whose bitmap did not fit in work_mem and kept only page numbers for some pages."
    )
    why = (
        "For a lossy page PostgreSQL no longer knows which rows matched, so it reads every row on "
        "the page and re-checks the condition: more CPU, and rows removed by the recheck that "
        "an exact bitmap would never have visited."
    )
    fix = (
        "Raise work_mem for this query or role so the bitmap stays exact, or make the condition "
        "more selective."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Bitmap Heap Scan", "Parallel Aware": False, "Relation Name": "events",
                    "Alias": "events", "Startup Cost": 900.0, "Total Cost": 30000.0, "Plan Rows": 300000,
                    "Plan Width": 60, "Actual Startup Time": 25.0, "Actual Total Time": 610.0,
                    "Actual Rows": 310000, "Actual Loops": 1,
                    "Recheck Cond": "(created_at >= '2024-01-01 00:00:00'::timestamp without time zone)",
                    "Rows Removed by Index Recheck": 2400000, "Exact Heap Blocks": 3100, "Lossy Heap Blocks": 41000,
                    "Plans": [{
                        "Node Type": "Bitmap Index Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Index Name": "events_created_at_index", "Startup Cost": 0.0, "Total Cost": 880.0,
                        "Plan Rows": 300000, "Plan Width": 0, "Actual Startup Time": 24.0,
                        "Actual Total Time": 24.0, "Actual Rows": 310000, "Actual Loops": 1,
                        "Index Cond": "(created_at >= '2024-01-01 00:00:00'::timestamp without time zone)",
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 620.0,
            }],
            fires=True, relation="events", columns=["created_at"],
        ),
        Example(
            note="an exact bitmap",
            plan=[{
                "Plan": {
                    "Node Type": "Bitmap Heap Scan", "Parallel Aware": False, "Relation Name": "events",
                    "Alias": "events", "Startup Cost": 90.0, "Total Cost": 3000.0, "Plan Rows": 3000,
                    "Plan Width": 60, "Actual Startup Time": 2.0, "Actual Total Time": 9.0,
                    "Actual Rows": 3100, "Actual Loops": 1, "Recheck Cond": "(account_id = 7)",
                    "Rows Removed by Index Recheck": 0, "Exact Heap Blocks": 2900, "Lossy Heap Blocks": 0,
                    "Plans": [{
                        "Node Type": "Bitmap Index Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Index Name": "events_account_id_index", "Startup Cost": 0.0, "Total Cost": 88.0,
                        "Plan Rows": 3000, "Plan Width": 0, "Actual Startup Time": 1.0,
                        "Actual Total Time": 1.0, "Actual Rows": 3100, "Actual Loops": 1,
                        "Index Cond": "(account_id = 7)",
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 9.5,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        current_kb = parse_mem_setting(plan.settings.get("work_mem"))
        for node in plan.nodes:
            if base_type(node) != "Bitmap Heap Scan" or node.never_executed:
                continue
            lossy = node.get("Lossy Heap Blocks")
            exact = node.get("Exact Heap Blocks")
            lossy = float(lossy) if isinstance(lossy, (int, float)) else 0.0
            exact = float(exact) if isinstance(exact, (int, float)) else 0.0
            if lossy <= 0:
                continue
            rechecked = node.rows_removed_by_index_recheck
            examined = (node.actual_rows_total or 0.0) + rechecked
            lossy_share = lossy / (lossy + exact)
            wasted = rechecked / examined if rechecked > 0 and examined > 0 else lossy_share * 0.5
            node_share, basis = share(plan, node, inclusive=True)
            needed = max((lossy + exact) * BYTES_PER_PAGE / 1024 * HEADROOM, (current_kb or 0) * 2)
            suggestion = format_kb(suggest_mem_kb(needed))
            cond = node.get("Recheck Cond")
            uses = parse_condition(cond, alias=node.alias, relation=node.relation)
            cols = [u.column for u in uses if u.role != JOIN]
            took = "; the scan is "
            if node.inclusive_ms is not None:
                took = f"; the scan took {fmt_ms(node.inclusive_ms)}, "
            recheck_text = (
                f", and the recheck discarded {fmt_rows(rechecked)} rows" if rechecked > 0 else ""
            )
            yield self.insight(
                title=f"{label(node)}: {fmt_pct(lossy_share)} of heap blocks lossy",
                score=node_share * wasted,
                node=node,
                columns=list(dict.fromkeys(cols)),
                evidence=(
                    f"{label(node)} had {fmt_rows(lossy)} lossy and {fmt_rows(exact)} exact heap blocks"
                    f"{recheck_text}{took}{share_text(node_share, basis)}."
                ),
                fix=setting_fix(
                    {"work_mem": suggestion},
                    why=f"an exact bitmap of {fmt_rows(lossy + exact)} pages needs about {format_kb(needed)}",
                ),
            )
