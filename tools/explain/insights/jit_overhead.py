from __future__ import annotations

from typing import Iterable

from tools.explain.ecto_fix import setting_fix
from tools.explain.findings import Insight
from tools.explain.insights.base import Example, Rule, clamp, fmt_ms, fmt_pct, total_ms
from tools.explain.plan import Plan

MIN_SHARE = 0.1


class JitOverhead(Rule):
    """Fires when JIT compilation (`JIT.Timing.Total`, summed over leader and workers) is at
    least 10% of the query's total time (Execution Time, which includes it; without it, the
    root's time plus the JIT time).

    Score: JIT time / total time - turning JIT off removes it entirely.
    """

    id = "jit-overhead"
    title = "JIT compilation costs more than it saves"
    detects = "A query where compiling expressions with LLVM took a significant share of the run time."
    why = (
        "PostgreSQL JIT-compiles a query when its estimated cost exceeds jit_above_cost. For short "
        "OLTP queries, often pushed over the threshold by an over-estimate, compiling costs more "
        "than the faster expressions ever return."
    )
    fix = (
        "Turn JIT off for this query or role (jit = off), or raise jit_above_cost and "
        "jit_optimize_above_cost; fix a cost over-estimate that pushed the query over the threshold."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Aggregate", "Strategy": "Plain", "Partial Mode": "Simple", "Parallel Aware": False,
                    "Startup Cost": 120000.0, "Total Cost": 120000.01, "Plan Rows": 1, "Plan Width": 8,
                    "Actual Startup Time": 180.0, "Actual Total Time": 180.0, "Actual Rows": 1, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "events", "Alias": "events", "Startup Cost": 0.0, "Total Cost": 110000.0,
                        "Plan Rows": 5000000, "Plan Width": 0, "Actual Startup Time": 150.0,
                        "Actual Total Time": 160.0, "Actual Rows": 1200, "Actual Loops": 1,
                        "Filter": "(account_id = 7)", "Rows Removed by Filter": 20000,
                    }],
                },
                "Planning Time": 0.2, "Triggers": [],
                "JIT": {
                    "Functions": 4,
                    "Options": {"Inlining": False, "Optimization": False, "Expressions": True, "Deforming": True},
                    "Timing": {"Generation": 1.2, "Inlining": 0.0, "Optimization": 40.3, "Emission": 105.0, "Total": 146.5},
                },
                "Execution Time": 181.0,
            }],
            fires=True,
        ),
        Example(
            note="JIT time is noise next to a long query (pganalyze-jit.json: 1.3 ms of 2 s)",
            plan={
                "Query Text": "SELECT pg_sleep(2);",
                "Plan": {
                    "Node Type": "Result", "Parallel Aware": False, "Startup Cost": 0.0, "Total Cost": 0.01,
                    "Plan Rows": 1, "Plan Width": 4, "Actual Startup Time": 2007.488,
                    "Actual Total Time": 2007.489, "Actual Rows": 1, "Actual Loops": 1,
                },
                "JIT": {
                    "Functions": 1,
                    "Options": {"Inlining": False, "Optimization": False, "Expressions": True, "Deforming": True},
                    "Timing": {"Generation": 0.177, "Inlining": 0.0, "Optimization": 0.097, "Emission": 1.016, "Total": 1.291},
                },
            },
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        jit = plan.jit_total_ms
        if not jit or jit <= 0:
            return
        total = total_ms(plan)
        if not total:
            return
        if not plan.execution_time_ms:
            total += jit  # the root's time does not include compilation done at executor start
        part = clamp(jit / total)
        if part < MIN_SHARE:
            return
        functions = (plan.jit or {}).get("Functions")
        fn_text = f" compiling {functions} functions" if isinstance(functions, int) else ""
        fix = setting_fix({"jit": "off"}, why="JIT does not pay off for this query")
        fix.sql = (fix.sql or "") + (
            "\n-- or keep JIT for really big queries only:\n-- SET jit_above_cost = 1000000;"
        )
        yield self.insight(
            title=f"JIT compilation took {fmt_pct(part)} of the query time",
            score=part,
            evidence=f"JIT spent {fmt_ms(jit)}{fn_text}, {fmt_pct(part)} of the {fmt_ms(total)} the query took.",
            fix=fix,
        )
