from __future__ import annotations

from typing import Iterable

from tools.explain.ecto_fix import execute_migration, quote_ident
from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    base_type,
    fmt_pct,
    fmt_rows,
    label,
    rows_seen,
    share,
    share_text,
)
from tools.explain.plan import Plan

MIN_RATIO = 0.1
MIN_FETCHES = 100
SAVING = 0.5
_SCALE = "autovacuum_vacuum_scale_factor"
_INSERT_SCALE = "autovacuum_vacuum_insert_scale_factor"  # PG 13+: insert-only tables get vacuumed too


class HeapFetches(Rule):
    """Fires on an Index Only Scan whose `Heap Fetches` (a total over loops) are at least 10%
    of the rows it looked at (returned plus removed by its filter) and at least 100. PEV2 flags
    any heap fetch and escalates at 40% and 90%; below 10% the visibility map is doing its job.

    Score: the scan's exclusive time x the fetch ratio x 0.5 / the query's total time: each
    fetch is an extra heap visit the index-only scan exists to avoid, but the index part of
    the work remains. Without timing, its share of blocks or cost stands in.
    """

    id = "heap-fetches"
    title = "Index-only scan visits the table"
    detects = (
        "An index-only scan that still fetched many rows from the table because pages are not "
        "marked all-visible."
    )
    why = (
        "An index-only scan can skip the table only for pages the visibility map marks "
        "all-visible. Pages changed since the last VACUUM must be read from the heap, so the "
        "scan costs as much as a plain index scan."
    )
    fix = (
        "VACUUM the table to refresh its visibility map, and make autovacuum visit it more "
        "often (lower autovacuum_vacuum_scale_factor and autovacuum_vacuum_insert_scale_factor "
        "for this table)."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Index Only Scan", "Parallel Aware": False, "Scan Direction": "Forward",
                    "Index Name": "tickets_customer_id_status_index", "Relation Name": "tickets", "Alias": "tickets",
                    "Startup Cost": 0.42, "Total Cost": 900.0, "Plan Rows": 5000, "Plan Width": 12,
                    "Actual Startup Time": 0.05, "Actual Total Time": 35.0, "Actual Rows": 5200, "Actual Loops": 1,
                    "Index Cond": "(customer_id = 42)", "Heap Fetches": 4800,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 36.0,
            }],
            fires=True, relation="tickets",
        ),
        Example(
            note="a freshly vacuumed table",
            plan=[{
                "Plan": {
                    "Node Type": "Index Only Scan", "Parallel Aware": False, "Scan Direction": "Forward",
                    "Index Name": "tickets_customer_id_status_index", "Relation Name": "tickets", "Alias": "tickets",
                    "Startup Cost": 0.42, "Total Cost": 120.0, "Plan Rows": 5000, "Plan Width": 12,
                    "Actual Startup Time": 0.05, "Actual Total Time": 1.2, "Actual Rows": 5200, "Actual Loops": 1,
                    "Index Cond": "(customer_id = 42)", "Heap Fetches": 0,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 1.3,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        for node in plan.nodes:
            if base_type(node) != "Index Only Scan" or node.never_executed:
                continue
            fetches = node.get("Heap Fetches")
            if not isinstance(fetches, (int, float)) or fetches < MIN_FETCHES:
                continue
            seen = rows_seen(node)
            ratio = min(1.0, fetches / seen) if seen > 0 else 1.0
            if ratio < MIN_RATIO:
                continue
            node_share, basis = share(plan, node)
            yield self.insight(
                title=f"{label(node)} fetched {fmt_pct(ratio)} of its rows from the table",
                score=node_share * ratio * SAVING,
                node=node,
                evidence=(
                    f"{label(node)} made {fmt_rows(fetches)} heap fetches for {fmt_rows(seen)} rows "
                    f"({fmt_pct(ratio)}): those pages are not all-visible in the visibility map. "
                    f"The scan is {share_text(node_share, basis)}."
                ),
                fix=_fix(node.relation) if node.relation else Fix(),
            )


def _fix(table: str) -> Fix:
    t = quote_ident(table)
    tune = f"ALTER TABLE {t} SET ({_SCALE} = 0.02, {_INSERT_SCALE} = 0.02)"
    sql = "\n".join([
        f"VACUUM (ANALYZE) {t};  -- refreshes the visibility map now",
        "-- and have autovacuum come back sooner for this table:",
        tune + ";",
    ])
    ecto = (
        f'# now (VACUUM cannot run inside a transaction, so not in a transactional migration):\n'
        f'Repo.query!("VACUUM (ANALYZE) {t}")\n\n'
        + execute_migration(
            f"tune_{table}_autovacuum",
            [tune],
            [f"ALTER TABLE {t} RESET ({_SCALE}, {_INSERT_SCALE})"],
        )
    )
    return Fix(sql=sql, ecto=ecto)
