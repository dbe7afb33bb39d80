from __future__ import annotations

import re
from typing import Iterable

from tools.explain.ecto_fix import elixir_string, quote_ident
from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    clamp,
    fmt_ms,
    fmt_rows,
    relations_below,
    share,
    share_text,
    total_ms,
)
from tools.explain.plan import Plan, PlanNode

MIN_ROWS = 10_000
SAVING = 0.8
_COUNT = re.compile(r"\bcount\s*\(", re.IGNORECASE)


class SlowCount(Rule):
    """Fires on a plain (ungrouped) count: an Aggregate with Strategy Plain, not a Partial one,
    whose output (VERBOSE) contains `count(` - or, without VERBOSE, whose query text does - and
    which counted at least 10,000 input rows (plan rows when not analysed).

    Score: like pgMustard, on the whole subtree: the aggregate's inclusive time x 0.8 / the
    query's total time, since an estimate or a capped count skips nearly all of the work.
    Without timing, the subtree's share of blocks or cost x 0.8.
    """

    id = "slow-count"
    title = "Exact count over many rows"
    detects = "A count(*) (or count(col)) that visits every matching row to produce one number."
    why = (
        "PostgreSQL has no stored row count: MVCC means each transaction may see a different "
        "number, so count(*) reads every matching row (or index entry) each time. Page totals "
        "and badges built on it slow down as the table grows."
    )
    fix = (
        "Use the planner's estimate (pg_class.reltuples) where approximate is fine; cap the count "
        "(`count(*)` over a LIMITed subquery) when the UI only shows '1000+'; or keep exact "
        "counts cheap with an index-only scan over a well-vacuumed table."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Aggregate", "Strategy": "Plain", "Partial Mode": "Simple", "Parallel Aware": False,
                    "Startup Cost": 4000.0, "Total Cost": 4000.01, "Plan Rows": 1, "Plan Width": 8,
                    "Actual Startup Time": 38.0, "Actual Total Time": 38.0, "Actual Rows": 1, "Actual Loops": 1,
                    "Output": ["count(*)"],
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "tickets", "Schema": "public", "Alias": "tickets", "Startup Cost": 0.0,
                        "Total Cost": 3500.0, "Plan Rows": 200000, "Plan Width": 0, "Actual Startup Time": 0.01,
                        "Actual Total Time": 22.0, "Actual Rows": 200000, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 38.1,
            }],
            fires=True, relation="tickets",
        ),
        Example(
            note="a sum, not a count",
            plan=[{
                "Plan": {
                    "Node Type": "Aggregate", "Strategy": "Plain", "Partial Mode": "Simple", "Parallel Aware": False,
                    "Startup Cost": 4000.0, "Total Cost": 4000.01, "Plan Rows": 1, "Plan Width": 8,
                    "Actual Startup Time": 38.0, "Actual Total Time": 38.0, "Actual Rows": 1, "Actual Loops": 1,
                    "Output": ["sum(amount)"],
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "payments", "Schema": "public", "Alias": "payments", "Startup Cost": 0.0,
                        "Total Cost": 3500.0, "Plan Rows": 200000, "Plan Width": 8, "Actual Startup Time": 0.01,
                        "Actual Total Time": 22.0, "Actual Rows": 200000, "Actual Loops": 1,
                        "Output": ["amount"],
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 38.1,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        query_counts = bool(plan.query_text and _COUNT.search(plan.query_text))
        for node in plan.nodes:
            if node.raw_node_type != "Aggregate" or node.get("Strategy", "Plain") != "Plain":
                continue
            if node.get("Partial Mode") == "Partial" or node.never_executed:
                continue
            output = node.get("Output")
            if isinstance(output, list):
                if not any(isinstance(o, str) and _COUNT.search(o) for o in output):
                    continue
            elif not query_counts:
                continue
            counted = _input_rows(plan, node)
            if counted < MIN_ROWS:
                continue
            sub_share, basis = _subtree_share(plan, node)
            rels = relations_below(plan, node)
            relation = rels[0] if len(rels) == 1 else None
            took = f" in {fmt_ms(node.inclusive_ms)}" if node.inclusive_ms is not None else ""
            yield self.insight(
                title=f"Count over {fmt_rows(counted)} rows" + (f" of {relation}" if relation else ""),
                score=sub_share * SAVING,
                node=node,
                relation=relation,
                evidence=(
                    f"The count visited {fmt_rows(counted)} rows{took} to return one number: "
                    f"{share_text(sub_share, basis)}."
                ),
                fix=_fix(relation, plan.nodes[node.children[0]] if node.children else None),
            )


def _input_rows(plan: Plan, node: PlanNode) -> float:
    """Rows that reached the count, through a Gather and its Partial Aggregate if parallel."""
    current = node
    for _ in range(4):
        kids = plan.children(current)
        if not kids:
            break
        child = kids[0]
        if child.raw_node_type in ("Gather", "Gather Merge") or (
            child.raw_node_type == "Aggregate" and child.get("Partial Mode") == "Partial"
        ):
            current = child
            continue
        rows = child.actual_rows_total if child.analyzed else child.plan_rows_total
        return rows or 0.0
    return 0.0


def _subtree_share(plan: Plan, node: PlanNode) -> tuple[float, str]:
    total = total_ms(plan)
    if total and node.inclusive_ms is not None:
        return clamp(node.inclusive_ms / total), "time"
    return share(plan, node, inclusive=True)


def _fix(relation: str | None, scan: PlanNode | None) -> Fix:
    table = relation or "my_table"
    t = quote_ident(table)
    where = scan.get("Filter") if scan is not None and isinstance(scan.get("Filter"), str) else None
    cond = f" WHERE {where}" if where else ""
    sql = "\n".join([
        "-- 1. An estimate, instant and good enough for \"about 1.2M\" (fresh after ANALYZE/autovacuum):",
        f"SELECT reltuples::bigint AS estimate FROM pg_class WHERE oid = '{t}'::regclass;",
        "-- 2. A capped count, when the UI only needs \"1000+\":",
        f"SELECT count(*) FROM (SELECT 1 FROM {t}{cond} LIMIT 1001) AS capped;",
        "-- 3. Exact counts stay cheap as index-only scans when the visibility map is current:",
        f"VACUUM (ANALYZE) {t};",
    ])
    ecto = "\n".join([
        "# 1. An estimate from the planner's statistics:",
        f'Repo.one(from c in "pg_class", where: c.relname == {elixir_string(table)}, select: c.reltuples)',
        "",
        "# 2. A capped count (the query is the one you count today; keep its where:):",
        "capped = from q in query, select: 1, limit: 1001",
        "Repo.aggregate(subquery(capped), :count)",
        "",
        "# 3. Exact, but index-only: keep the table vacuumed (autovacuum settings) and index the filter.",
    ])
    return Fix(sql=sql, ecto=ecto)
