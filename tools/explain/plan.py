"""The plan model: EXPLAIN JSON (PostgreSQL 12 to 18) read into normalised nodes.

Normalisation follows PEV2's reading of plans (see shared/reference/explain-plans.md §2-§8):
per-loop counters multiplied by loops, times divided by the processes of a parallel section,
exclusive time and buffers with the InitPlan, SubPlan and CTE corrections, so that the nodes'
exclusive times add up to the query's runtime and insights can score by the share of time saved.

CONTRACT (other modules rely on these names; keep them stable):
- `parse_plan(source) -> Plan` accepts a JSON string, bytes, a one-element list or an auto_explain
  object; raises tools.errors.InputError with one clear line on anything malformed.
- `Plan.nodes` is in pre-order; `PlanNode.id` is its index there; `PlanNode.parent` the parent's id
  (None for the root and for CTE roots moved out of the tree, whose `parent_relationship` stays
  "InitPlan" and whose `subplan_name` starts with "CTE").
- Times are in milliseconds; `None` where the plan has no timing (no ANALYZE, or TIMING OFF).
- Row counts (`actual_rows_total`, `rows_removed_*`) are totals over all loops.
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import BaseModel, Field


class Buffers(BaseModel):
    shared_hit: int = 0
    shared_read: int = 0
    shared_dirtied: int = 0
    shared_written: int = 0
    local_hit: int = 0
    local_read: int = 0
    local_dirtied: int = 0
    local_written: int = 0
    temp_read: int = 0
    temp_written: int = 0

    @property
    def total_read(self) -> int:
        """Blocks the node touched: hits and reads, shared and local."""
        return self.shared_hit + self.shared_read + self.local_hit + self.local_read


class PlanNode(BaseModel):
    id: int
    parent: int | None = None
    children: list[int] = Field(default_factory=list)
    depth: int = 0
    node_type: str  # display name: "Seq Scan", "HashAggregate", "Insert" (ModifyTable), ...
    raw_node_type: str  # "Node Type" exactly as EXPLAIN printed it
    parent_relationship: str | None = None
    subplan_name: str | None = None
    relation: str | None = None
    schema_name: str | None = None
    alias: str | None = None
    index_name: str | None = None

    startup_cost: float = 0.0
    total_cost: float = 0.0
    exclusive_cost: float = 0.0
    plan_rows: float = 0.0
    plan_width: int = 0

    analyzed: bool = False  # the node carries "Actual Rows"
    never_executed: bool = False  # analysed, and Actual Loops == 0
    loops: float = 0.0
    actual_rows: float | None = None  # per loop, as printed
    actual_rows_total: float | None = None  # actual_rows x loops
    plan_rows_total: float = 0.0  # plan_rows x loops (the planner's estimate is per loop too)
    rows_removed_by_filter: float = 0.0  # totals over loops
    rows_removed_by_join_filter: float = 0.0
    rows_removed_by_index_recheck: float = 0.0
    estimate_factor: float | None = None  # >= 1; None when either side is zero or not analysed
    estimate_direction: str | None = None  # "under" (more rows than planned) or "over"

    workers: int = 1  # processes sharing this node: launched workers + leader inside a Gather
    workers_planned: int | None = None  # Gather / Gather Merge only
    workers_launched: int | None = None

    inclusive_ms: float | None = None
    exclusive_ms: float | None = None
    exclusive_pct: float | None = None  # of the plan's total time, 0..100

    buffers: Buffers = Field(default_factory=Buffers)  # inclusive, as printed
    exclusive_buffers: Buffers = Field(default_factory=Buffers)

    attrs: dict[str, Any] = Field(default_factory=dict)  # every other key of the raw node, minus "Plans"

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


class Trigger(BaseModel):
    name: str
    relation: str | None = None
    constraint_name: str | None = None
    time_ms: float | None = None
    calls: int | None = None


class Plan(BaseModel):
    query_text: str | None = None
    query_identifier: int | None = None
    analyzed: bool = False
    has_timing: bool = False
    has_buffers: bool = False
    planning_time_ms: float | None = None
    execution_time_ms: float | None = None
    total_ms: float | None = None  # execution time, else the root's inclusive time
    triggers: list[Trigger] = Field(default_factory=list)
    jit: dict[str, Any] | None = None
    jit_total_ms: float | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    nodes: list[PlanNode] = Field(default_factory=list)
    raw_size: int = 0  # characters of the JSON this was read from

    @property
    def root(self) -> PlanNode:
        return self.nodes[0]

    def children(self, node: PlanNode) -> list[PlanNode]:
        return [self.nodes[i] for i in node.children]

    def descendants(self, node: PlanNode) -> Iterator[PlanNode]:
        for child in self.children(node):
            yield child
            yield from self.descendants(child)

    def parent_of(self, node: PlanNode) -> PlanNode | None:
        return None if node.parent is None else self.nodes[node.parent]


def parse_plan(source: str | bytes | list | dict) -> Plan:
    raise NotImplementedError  # implemented by the plan-model work; see module docstring
