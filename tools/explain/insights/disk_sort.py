from __future__ import annotations

from typing import Any, Iterable

from tools.explain.ecto_fix import format_kb, parse_mem_setting, setting_fix, suggest_mem_kb
from tools.explain.exprs import sort_keys
from tools.explain.findings import Insight
from tools.explain.insights.base import Example, Rule, fmt_ms, label, relations_below, share, share_text
from tools.explain.plan import Plan, PlanNode

SAVING = 0.5
MEMORY_PER_DISK_KB = 2.0


class DiskSort(Rule):
    """Fires on a Sort or Incremental Sort that wrote to disk: `Sort Space Type: Disk`, an
    `external sort`/`external merge` method (also in any worker's `Workers[]` entry), or, for
    an Incremental Sort, a `Sort Space Disk` group. A Sort with temp blocks written but no sort
    details (some auto_explain configurations) counts too.

    Score: the sort's exclusive time x 0.5 / the query's total time: an in-memory quicksort of
    the same rows typically takes about half the time of an external merge (the sort itself
    remains). Without timing, its share of the cost x 0.5.

    Suggested work_mem: about twice the largest on-disk size (an in-memory sort keeps per-tuple
    overhead the on-disk runs do not), at least double the current setting when the plan shows
    it (SETTINGS), rounded up to a power of two in MB.
    """

    id = "disk-sort"
    title = "Sort spilled to disk"
    detects = "A sort that did not fit in work_mem and wrote its runs to temporary files."
    why = (
        "An external merge sort writes and re-reads every row through temporary files, which is "
        "several times slower than sorting in memory and competes for I/O with everything else."
    )
    fix = (
        "Raise work_mem for this query (SET LOCAL in a transaction) or the role, to the size "
        "suggested; or avoid the sort with an index in the sort order, or sort fewer rows."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "Sort", "Parallel Aware": False, "Startup Cost": 26000.0, "Total Cost": 26500.0,
                    "Plan Rows": 200000, "Plan Width": 43, "Actual Startup Time": 120.0, "Actual Total Time": 150.0,
                    "Actual Rows": 200000, "Actual Loops": 1, "Sort Key": ["tickets.created_at DESC"],
                    "Sort Method": "external merge", "Sort Space Used": 9800, "Sort Space Type": "Disk",
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "tickets", "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 3500.0,
                        "Plan Rows": 200000, "Plan Width": 43, "Actual Startup Time": 0.01,
                        "Actual Total Time": 20.0, "Actual Rows": 200000, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 160.0,
            }],
            fires=True, relation="tickets", columns=["created_at"],
        ),
        Example(
            note="a top-N heapsort in memory",
            plan=[{
                "Plan": {
                    "Node Type": "Sort", "Parallel Aware": False, "Startup Cost": 8000.0, "Total Cost": 8000.1,
                    "Plan Rows": 10, "Plan Width": 43, "Actual Startup Time": 40.0, "Actual Total Time": 40.0,
                    "Actual Rows": 10, "Actual Loops": 1, "Sort Key": ["created_at"],
                    "Sort Method": "top-N heapsort", "Sort Space Used": 26, "Sort Space Type": "Memory",
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "tickets", "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 3500.0,
                        "Plan Rows": 200000, "Plan Width": 43, "Actual Startup Time": 0.01,
                        "Actual Total Time": 20.0, "Actual Rows": 200000, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 40.1,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        current_kb = parse_mem_setting(plan.settings.get("work_mem"))
        for node in plan.nodes:
            if node.raw_node_type not in ("Sort", "Incremental Sort") or node.never_executed:
                continue
            disk_kb = _disk_kb(node)
            if disk_kb is None:
                continue
            needed = disk_kb * MEMORY_PER_DISK_KB
            if current_kb:
                needed = max(needed, current_kb * 2)
            suggestion = format_kb(suggest_mem_kb(needed))
            node_share, basis = share(plan, node)
            rels = relations_below(plan, node)
            relation = rels[0] if len(rels) == 1 else None
            alias = _alias_below(plan, node) if relation else None
            keys = sort_keys(_as_list(node.get("Sort Key")), alias=alias, relation=relation)
            method = node.get("Sort Method") or "external"
            sort_text = ", ".join(_as_list(node.get("Sort Key"))) or "its key"
            size = f"{format_kb(disk_kb)} on disk" if disk_kb else "temporary files"
            took = f" and took {fmt_ms(node.exclusive_ms)} itself, " if node.exclusive_ms is not None else ", "
            yield self.insight(
                title=f"{label(node)} spilled {format_kb(disk_kb) + ' ' if disk_kb else ''}to disk",
                score=node_share * SAVING,
                node=node,
                relation=relation,
                columns=[k for k, _ in keys],
                evidence=(
                    f"{label(node)} on {sort_text} used {method} "
                    f"with {size}{took}{share_text(node_share, basis)}"
                    + (f"; work_mem is {plan.settings.get('work_mem')}" if current_kb else "")
                    + "."
                ),
                fix=setting_fix(
                    {"work_mem": suggestion},
                    why=f"the sort needs about {format_kb(needed)} to stay in memory",
                ),
            )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


def _alias_below(plan: Plan, node: PlanNode) -> str | None:
    for n in plan.descendants(node):
        if n.relation:
            return n.alias
    return None


def _disk_kb(node: PlanNode) -> float | None:
    """The largest on-disk sort size across the leader and workers; 0 when it spilled without
    saying how much; None when it did not spill."""
    spilled = False
    sizes: list[float] = []
    entries = [node.attrs, *[w for w in _as_dicts(node.get("Workers"))]]
    for entry in entries:
        method = str(entry.get("Sort Method") or "")
        if entry.get("Sort Space Type") == "Disk" or method.startswith("external"):
            spilled = True
            used = entry.get("Sort Space Used")
            if isinstance(used, (int, float)):
                sizes.append(float(used))
        for group_key in ("Full-sort Groups", "Pre-sorted Groups"):
            group = entry.get(group_key)
            if isinstance(group, dict) and isinstance(group.get("Sort Space Disk"), dict):
                spilled = True
                peak = group["Sort Space Disk"].get("Peak Sort Space Used")
                if isinstance(peak, (int, float)):
                    sizes.append(float(peak))
    if not spilled and node.exclusive_buffers.temp_written > 0 and node.get("Sort Method") is None:
        spilled = True
        sizes.append(node.exclusive_buffers.temp_written * 8.0)
    if not spilled:
        return None
    return max(sizes) if sizes else 0.0


def _as_dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
