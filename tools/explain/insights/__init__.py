"""The insight catalogue: one rule per module, each documented like a ruff rule.

Ranking follows pgMustard: every insight carries a score, the share of the query's total time
its fix could save (0..1). `analyze` drops insights below `min_score` and returns the rest
strongest first; the renderers may keep only the top few. A rule that fails on an odd plan is
skipped (logged) rather than costing the user every other insight, unless `strict`.
"""

from __future__ import annotations

import logging
from typing import Any

from tools.explain.findings import Insight
from tools.explain.insights.base import Example, Rule
from tools.explain.insights.disk_sort import DiskSort
from tools.explain.insights.hash_spill import HashSpill
from tools.explain.insights.heap_fetches import HeapFetches
from tools.explain.insights.inefficient_index import InefficientIndex
from tools.explain.insights.jit_overhead import JitOverhead
from tools.explain.insights.large_offset import LargeOffset
from tools.explain.insights.lossy_bitmap import LossyBitmap
from tools.explain.insights.nested_loop_rescans import NestedLoopRescans
from tools.explain.insights.planning_time import PlanningTime
from tools.explain.insights.read_efficiency import ReadEfficiency
from tools.explain.insights.row_misestimate import RowMisestimate
from tools.explain.insights.seq_scan_filter import SeqScanFilter
from tools.explain.insights.slow_count import SlowCount
from tools.explain.insights.slow_trigger import SlowTrigger
from tools.explain.insights.workers_not_launched import WorkersNotLaunched
from tools.explain.plan import Plan

log = logging.getLogger(__name__)

# Catalogue order: what to look at first when scores tie, and the order of `explain --rules`.
RULES: list[Rule] = [
    SeqScanFilter(),
    InefficientIndex(),
    NestedLoopRescans(),
    RowMisestimate(),
    DiskSort(),
    HashSpill(),
    LossyBitmap(),
    HeapFetches(),
    LargeOffset(),
    SlowCount(),
    SlowTrigger(),
    ReadEfficiency(),
    WorkersNotLaunched(),
    JitOverhead(),
    PlanningTime(),
]

DEFAULT_MIN_SCORE = 0.01

__all__ = ["RULES", "DEFAULT_MIN_SCORE", "Example", "Rule", "analyze", "catalogue", "rule"]


def analyze(
    plan: Plan, *, min_score: float = DEFAULT_MIN_SCORE, top: int | None = None, strict: bool = False
) -> list[Insight]:
    """Every rule's insights on `plan` scoring at least `min_score`, strongest first."""
    found: list[tuple[float, int, int, Insight]] = []
    if not plan.nodes:
        return []
    for order, r in enumerate(RULES):
        try:
            for seq, insight in enumerate(r.check(plan, min_score)):
                if insight.score >= min_score:
                    found.append((-insight.score, order, seq, insight))
        except Exception:
            if strict:
                raise
            log.warning("insight rule %s failed on this plan; skipped", r.id, exc_info=True)
    found.sort(key=lambda t: t[:3])
    insights = [t[3] for t in found]
    return insights[:top] if top is not None else insights


def catalogue() -> list[dict[str, Any]]:
    """The rules' documentation, in catalogue order: id, title, detects, why, fix, thresholds."""
    return [r.doc() for r in RULES]


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)
