from __future__ import annotations

from typing import Iterable

from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import Example, Rule, clamp, fmt_ms, fmt_pct, total_ms
from tools.explain.plan import Plan

MIN_SHARE = 0.2
MIN_MS = 1.0


class PlanningTime(Rule):
    """Fires when Planning Time is at least 1 ms and at least 20% of planning + execution.
    Below 1 ms planning is never worth a change; below 20% execution is where the time goes.

    Score: planning / (planning + execution). Plans without both times are skipped.
    """

    id = "planning-time"
    title = "Planning takes a large share of the time"
    detects = "A query that spends a large part of its time being planned rather than executed."
    why = (
        "Planning cost grows with the number of joins, partitions, indexes and statistics the "
        "planner has to consider. For a fast query that runs often, planning can dominate, and a "
        "cold connection also pays to load catalog data first."
    )
    fix = (
        "Let prepared statements reuse plans (Ecto prepares by default; `prepare: :unnamed`, used "
        "behind PgBouncer in transaction mode, re-plans every time); make partition pruning work "
        "(filter on the partition key); reduce joins, unused indexes, or huge statistics targets."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Index Scan", "Parallel Aware": False, "Scan Direction": "Forward",
                    "Index Name": "events_2024_pkey", "Relation Name": "events_2024", "Alias": "events",
                    "Startup Cost": 0.42, "Total Cost": 8.44, "Plan Rows": 1, "Plan Width": 60,
                    "Actual Startup Time": 0.02, "Actual Total Time": 0.03, "Actual Rows": 1, "Actual Loops": 1,
                    "Index Cond": "(id = 42)",
                },
                "Planning Time": 38.0, "Triggers": [], "Execution Time": 0.1,
            }],
            fires=True,
        ),
        Example(
            note="planning is a small share",
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "tickets",
                    "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 3500.0, "Plan Rows": 200000,
                    "Plan Width": 43, "Actual Startup Time": 0.01, "Actual Total Time": 20.0,
                    "Actual Rows": 200000, "Actual Loops": 1,
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 25.0,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        planning = plan.planning_time_ms
        execution = plan.execution_time_ms if plan.execution_time_ms is not None else total_ms(plan)
        if planning is None or execution is None or planning < MIN_MS:
            return
        part = clamp(planning / (planning + execution))
        if part < MIN_SHARE:
            return
        yield self.insight(
            title=f"Planning took {fmt_ms(planning)}, {fmt_pct(part)} of the total",
            score=part,
            evidence=(
                f"Planning took {fmt_ms(planning)} and execution {fmt_ms(execution)}: "
                f"{fmt_pct(part)} of the time went to choosing the plan. The first query on a new connection "
                "also pays for loading catalog data, so compare with a second run."
            ),
            fix=Fix(
                sql=(
                    "-- See what the planner is working through:\n"
                    "EXPLAIN (ANALYZE, BUFFERS, SUMMARY) <the query>;\n"
                    "-- (PG 13+: the Planning section's buffers show catalog reads)\n"
                    "-- Partitioned tables: make sure pruning happens (filter on the partition key)\n"
                    "SHOW enable_partition_pruning;"
                ),
                ecto=(
                    "# Ecto prepares and caches each query's statement per connection by default, so\n"
                    "# repeated runs can reuse a generic plan. Check that the repo config does not turn\n"
                    "# this off (needed only behind PgBouncer in transaction mode):\n"
                    "config :my_app, MyApp.Repo, prepare: :named"
                ),
            ),
        )

