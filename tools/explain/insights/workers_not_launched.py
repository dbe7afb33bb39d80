from __future__ import annotations

from typing import Iterable

from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import Example, Rule, clamp, fmt_ms, label, share, total_ms
from tools.explain.plan import Plan


class WorkersNotLaunched(Rule):
    """Fires on a Gather or Gather Merge that launched fewer workers than planned (PEV2's
    plan-level note): the pool of parallel workers (max_parallel_workers, max_worker_processes)
    was exhausted when the query started. Needs ANALYZE (Workers Launched).

    Score: the Gather's subtree time x (1 - (launched + 1) / (planned + 1)) / the query's total
    time: with every planned worker the parallel part would have run about that much faster
    (the leader participates too). Without timing, the subtree's share of the cost.
    """

    id = "workers-not-launched"
    title = "Fewer parallel workers than planned"
    detects = "A parallel query that got fewer worker processes than the planner counted on."
    why = (
        "The planner costed the plan for N workers; with fewer, the leader and the remaining "
        "workers do all the work, so the parallel part runs proportionally slower. It usually "
        "means the server's worker pool is busy with other parallel queries."
    )
    fix = (
        "Raise max_parallel_workers (and max_worker_processes, which needs a restart) to fit the "
        "concurrent parallel queries, or lower max_parallel_workers_per_gather so plans ask for "
        "what they will get."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Aggregate", "Strategy": "Plain", "Partial Mode": "Finalize", "Parallel Aware": False,
                    "Startup Cost": 90000.0, "Total Cost": 90000.01, "Plan Rows": 1, "Plan Width": 8,
                    "Actual Startup Time": 480.0, "Actual Total Time": 480.0, "Actual Rows": 1, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Gather", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Startup Cost": 89999.0, "Total Cost": 90000.0, "Plan Rows": 4, "Plan Width": 8,
                        "Actual Startup Time": 479.0, "Actual Total Time": 480.0, "Actual Rows": 3,
                        "Actual Loops": 1, "Workers Planned": 4, "Workers Launched": 2, "Single Copy": False,
                        "Plans": [{
                            "Node Type": "Aggregate", "Strategy": "Plain", "Partial Mode": "Partial",
                            "Parent Relationship": "Outer", "Parallel Aware": False, "Startup Cost": 89000.0,
                            "Total Cost": 89000.01, "Plan Rows": 1, "Plan Width": 8, "Actual Startup Time": 475.0,
                            "Actual Total Time": 475.0, "Actual Rows": 1, "Actual Loops": 3,
                            "Plans": [{
                                "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": True,
                                "Relation Name": "events", "Alias": "events", "Startup Cost": 0.0,
                                "Total Cost": 80000.0, "Plan Rows": 1250000, "Plan Width": 0,
                                "Actual Startup Time": 0.02, "Actual Total Time": 300.0, "Actual Rows": 1666666,
                                "Actual Loops": 3,
                            }],
                        }],
                    }],
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 481.0,
            }],
            fires=True,
        ),
        Example(
            note="every planned worker started",
            plan=[{
                "Plan": {
                    "Node Type": "Gather", "Parallel Aware": False, "Startup Cost": 1000.0, "Total Cost": 60000.0,
                    "Plan Rows": 10, "Plan Width": 43, "Actual Startup Time": 1.0, "Actual Total Time": 120.0,
                    "Actual Rows": 10, "Actual Loops": 1, "Workers Planned": 2, "Workers Launched": 2,
                    "Single Copy": False,
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": True,
                        "Relation Name": "events", "Alias": "events", "Startup Cost": 0.0, "Total Cost": 59000.0,
                        "Plan Rows": 4, "Plan Width": 43, "Actual Startup Time": 30.0, "Actual Total Time": 119.0,
                        "Actual Rows": 3, "Actual Loops": 3, "Filter": "(id = 42)", "Rows Removed by Filter": 666666,
                    }],
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 121.0,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        total = total_ms(plan)
        for node in plan.nodes:
            if node.raw_node_type not in ("Gather", "Gather Merge") or node.never_executed:
                continue
            planned, launched = node.workers_planned, node.workers_launched
            if planned is None or launched is None or launched >= planned:
                continue
            slowdown = 1.0 - (launched + 1) / (planned + 1)
            if total and node.inclusive_ms is not None:
                part = clamp(node.inclusive_ms / total)
                took = f"; the parallel part took {fmt_ms(node.inclusive_ms)}"
            else:
                part, took = share(plan, node, inclusive=True)[0], ""
            yield self.insight(
                title=f"{label(node)} launched {launched} of {planned} planned workers",
                score=part * slowdown,
                node=node,
                relation=None,
                evidence=(
                    f"{label(node)} planned {planned} workers but launched {launched}{took}: "
                    f"{launched + 1} processes did work planned for {planned + 1}."
                ),
                fix=Fix(
                    sql=(
                        "SHOW max_parallel_workers;   -- the pool shared by all parallel queries\n"
                        "SHOW max_worker_processes;   -- the hard limit (restart to change)\n"
                        "-- size the pool for the parallel queries that run at once:\n"
                        "ALTER SYSTEM SET max_parallel_workers = 16;\n"
                        "SELECT pg_reload_conf();\n"
                        "-- or ask for fewer per query, to match what is available:\n"
                        "-- SET max_parallel_workers_per_gather = 2;"
                    ),
                    ecto=(
                        "# A server setting, not an Ecto change. To cap a repo's parallelism per query instead,\n"
                        "# in config/runtime.exs:\n"
                        'config :my_app, MyApp.Repo, parameters: [max_parallel_workers_per_gather: "2"]'
                    ),
                ),
            )
