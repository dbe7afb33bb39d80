from __future__ import annotations

from typing import Any, Iterable

from tools.explain.ecto_fix import format_kb, parse_mem_setting, setting_fix, suggest_mem_kb
from tools.explain.findings import Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    clamp,
    fmt_ms,
    fmt_rows,
    label,
    share,
    share_text,
    total_ms,
)
from tools.explain.plan import Plan, PlanNode

SAVING = 0.5
HEADROOM = 1.5


class HashSpill(Rule):
    """Fires on

    - a Hash node with `Hash Batches` > 1 (PEV2's hash-batches badge): the hash table was split
      into batches written to temporary files; `Original Hash Batches` lower than the final
      count means it grew at run time, i.e. the planner under-estimated the rows;
    - a HashAggregate / MixedAggregate (PG 13+) with `Disk Usage` > 0 or `HashAgg Batches` > 1,
      also in any worker's entry.

    Score: the spilled work's time x 0.5 / the query's total time. For a Hash that is the Hash
    node plus its Hash Join's own time (both sides of the join are partitioned to disk); for an
    aggregate, its exclusive time. Without timing, the same nodes' share of the cost.

    Suggested work_mem: for a Hash, Peak Memory Usage x batches; for an aggregate, peak memory
    plus disk usage; x 1.5 headroom, at least double the current setting when the plan shows
    it, rounded up to a power of two in MB. hash_mem_multiplier (PG 13+) is offered as the
    setting that gives hash nodes more memory without touching sorts.
    """

    id = "hash-spill"
    title = "Hash table spilled to disk"
    detects = (
        "A hash join's hash table or a hash aggregate that outgrew work_mem and went to disk in batches."
    )
    why = (
        "A batched hash join writes both of its inputs to temporary files and reads them back "
        "one batch at a time; a spilling hash aggregate does the same with its groups. Either "
        "turns a single in-memory pass into repeated disk I/O."
    )
    fix = (
        "Raise work_mem (or hash_mem_multiplier, which only affects hash nodes) for this query or "
        "role; if the hash grew past its planned batch count, fix the row estimate beneath it."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Hash Join", "Parallel Aware": False, "Join Type": "Inner",
                    "Startup Cost": 9000.0, "Total Cost": 30000.0, "Plan Rows": 200000, "Plan Width": 80,
                    "Actual Startup Time": 90.0, "Actual Total Time": 420.0, "Actual Rows": 200000, "Actual Loops": 1,
                    "Hash Cond": "(t.customer_id = c.id)",
                    "Plans": [
                        {
                            "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                            "Relation Name": "tickets", "Alias": "t", "Startup Cost": 0.0, "Total Cost": 3500.0,
                            "Plan Rows": 200000, "Plan Width": 40, "Actual Startup Time": 0.01,
                            "Actual Total Time": 25.0, "Actual Rows": 200000, "Actual Loops": 1,
                        },
                        {
                            "Node Type": "Hash", "Parent Relationship": "Inner", "Parallel Aware": False,
                            "Startup Cost": 4000.0, "Total Cost": 4000.0, "Plan Rows": 100000, "Plan Width": 40,
                            "Actual Startup Time": 80.0, "Actual Total Time": 80.0, "Actual Rows": 100000,
                            "Actual Loops": 1, "Hash Buckets": 65536, "Original Hash Buckets": 65536,
                            "Hash Batches": 4, "Original Hash Batches": 4, "Peak Memory Usage": 3500,
                            "Plans": [{
                                "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                                "Relation Name": "customers", "Alias": "c", "Startup Cost": 0.0,
                                "Total Cost": 2000.0, "Plan Rows": 100000, "Plan Width": 40,
                                "Actual Startup Time": 0.01, "Actual Total Time": 12.0, "Actual Rows": 100000,
                                "Actual Loops": 1,
                            }],
                        },
                    ],
                },
                "Planning Time": 0.2, "Triggers": [], "Execution Time": 430.0,
            }],
            fires=True,
        ),
        Example(
            note="a hash aggregate that spilled (PG 13+)",
            plan={
                "Query Text": "SELECT customer_id, count(*) FROM tickets GROUP BY customer_id",
                "Plan": {
                    "Node Type": "Aggregate", "Strategy": "Hashed", "Partial Mode": "Simple", "Parallel Aware": False,
                    "Startup Cost": 5000.0, "Total Cost": 9000.0, "Plan Rows": 1000, "Plan Width": 16,
                    "Actual Startup Time": 140.0, "Actual Total Time": 190.0, "Actual Rows": 150000,
                    "Actual Loops": 1, "Group Key": ["customer_id"], "Planned Partitions": 4,
                    "HashAgg Batches": 20, "Peak Memory Usage": 4145, "Disk Usage": 10000,
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "tickets", "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 3500.0,
                        "Plan Rows": 200000, "Plan Width": 8, "Actual Startup Time": 0.01,
                        "Actual Total Time": 20.0, "Actual Rows": 200000, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Execution Time": 195.0,
            },
            fires=True, relation="tickets", columns=["customer_id"],
        ),
        Example(
            note="one batch: the hash fit in memory",
            plan=[{
                "Plan": {
                    "Node Type": "Hash", "Parallel Aware": False, "Startup Cost": 10.0, "Total Cost": 10.0,
                    "Plan Rows": 75, "Plan Width": 4, "Actual Startup Time": 1.0, "Actual Total Time": 1.0,
                    "Actual Rows": 63, "Actual Loops": 1, "Hash Buckets": 1024, "Original Hash Buckets": 1024,
                    "Hash Batches": 1, "Original Hash Batches": 1, "Peak Memory Usage": 11,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 1.1,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        current_kb = parse_mem_setting(plan.settings.get("work_mem"))
        for node in plan.nodes:
            if node.never_executed:
                continue
            if node.raw_node_type == "Hash":
                found = self._hash(plan, node, current_kb)
            elif node.raw_node_type in ("Aggregate", "SetOp") and node.get("Strategy") in ("Hashed", "Mixed"):
                found = self._hash_agg(plan, node, current_kb)
            else:
                found = None
            if found is not None:
                yield found

    def _hash(self, plan: Plan, node: PlanNode, current_kb: float | None) -> Insight | None:
        batches = _num(node.get("Hash Batches"))
        if batches is None or batches <= 1:
            return None
        original = _num(node.get("Original Hash Batches"))
        peak = _num(node.get("Peak Memory Usage")) or 0.0
        join = plan.parent_of(node)
        parts = [node] + ([join] if join is not None and join.raw_node_type == "Hash Join" else [])
        part_share, basis = _sum_share(plan, parts)
        ms = _sum_ms(parts)
        needed = max(peak * batches * HEADROOM, (current_kb or 0) * 2)
        grew = (
            f" It planned {original:.0f} batch{'es' if original != 1 else ''}: the hash grew at run time, "
            "so the rows feeding it were under-estimated."
            if original is not None and original < batches
            else ""
        )
        rels = [n.relation for n in plan.descendants(node) if n.relation]
        relation = rels[0] if len(set(rels)) == 1 else None
        where = f" for {label(join)}" if join is not None else ""
        took = f"; with its join that took {fmt_ms(ms)}, " if ms is not None and len(parts) > 1 else "; "
        return self.insight(
            title=f"Hash{where} spilled to disk in {batches:.0f} batches",
            score=part_share * SAVING,
            node=node,
            relation=relation,
            evidence=(
                f"The Hash{where} used {batches:.0f} batches with a peak of {format_kb(peak)} per batch "
                f"({fmt_rows(node.actual_rows_total)} rows){took}{share_text(part_share, basis)}.{grew}"
            ),
            fix=_fix(needed),
        )

    def _hash_agg(self, plan: Plan, node: PlanNode, current_kb: float | None) -> Insight | None:
        entries = [node.attrs, *[w for w in _as_dicts(node.get("Workers"))]]
        disk = max((_num(e.get("Disk Usage")) or 0.0) for e in entries)
        batches = max((_num(e.get("HashAgg Batches")) or 0.0) for e in entries)
        peak = max((_num(e.get("Peak Memory Usage")) or 0.0) for e in entries)
        if disk <= 0 and batches <= 1:
            return None
        node_share, basis = share(plan, node)
        needed = max((peak + disk) * HEADROOM, (current_kb or 0) * 2)
        keys = node.get("Group Key")
        child_rels = [n.relation for n in plan.descendants(node) if n.relation]
        relation = child_rels[0] if len(set(child_rels)) == 1 else None
        columns = [k.split(".")[-1] for k in keys] if isinstance(keys, list) and relation else []
        took = f" and took {fmt_ms(node.exclusive_ms)} itself, " if node.exclusive_ms is not None else ", "
        return self.insight(
            title=f"{label(node)} spilled {format_kb(disk)} to disk in {batches:.0f} batches",
            score=node_share * SAVING,
            node=node,
            relation=relation,
            columns=[c for c in columns if c.replace("_", "").isalnum()],
            evidence=(
                f"{label(node)} reached {format_kb(peak)} of memory, then wrote {format_kb(disk)} to disk "
                f"in {batches:.0f} batches for {fmt_rows(node.actual_rows_total)} groups{took}"
                f"{share_text(node_share, basis)}."
            ),
            fix=_fix(needed),
        )


def _fix(needed_kb: float):
    suggestion = format_kb(suggest_mem_kb(needed_kb))
    why = f"the hash needs about {format_kb(needed_kb)} to stay in memory"
    fix = setting_fix({"work_mem": suggestion}, why=why)
    fix.sql = (fix.sql or "") + (
        "\n-- or, PG 13+, more memory for hash nodes only (work_mem x multiplier; default 2.0 since PG 15):"
        "\n-- SET hash_mem_multiplier = 4;"
    )
    return fix


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _as_dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _sum_ms(nodes: list[PlanNode]) -> float | None:
    if any(n.exclusive_ms is None for n in nodes):
        return None
    return sum(n.exclusive_ms or 0.0 for n in nodes)


def _sum_share(plan: Plan, nodes: list[PlanNode]) -> tuple[float, str]:
    total = total_ms(plan)
    ms = _sum_ms(nodes)
    if total and ms is not None:
        return clamp(ms / total), "time"
    shares = [share(plan, n) for n in nodes]
    return clamp(sum(s for s, _ in shares)), shares[0][1]
