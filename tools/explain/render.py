"""Plans and insights written for a model's context window, and as the CLI's JSON.

A pasted EXPLAIN plan is mostly noise to a model: hundreds of nodes that each take a fraction of
a percent, every counter printed even when zero. `render_text` keeps what a reader needs to act:
the insights first, then only the nodes that carry time (or cost, without timing) as a fragment
of the tree, with elided ancestors shown as "…" lines. On plans of 50 nodes or more the text
must stay within 10% of the plan's JSON size, so it degrades in steps (fewer optional nodes,
shorter attributes, terser insights) until it fits; nodes with 5% or more of the time are shown
at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tools.explain.findings import Insight
from tools.explain.plan import Plan, PlanNode

MUST_SHOW_PCT = 5.0  # nodes at or above this share are always shown
OPTIONAL_PCT = 1.0  # below this a node is shown only when something about it stands out
SIZE_RULE_NODES = 50  # plans this large must render within SIZE_RATIO of their JSON
SIZE_RATIO = 0.10
SHOW_ALL_NODES = 30  # small plans are shown whole: the full shape costs little
ESTIMATE_FLAG = 10.0  # the factor from which an estimate is called out
NOTABLE_NODES = 6  # cheap nodes shown for what they reveal (spills, mis-estimates, filters)
INSIGHTS_IN_FULL = 5  # with evidence and fixes; the JSON output carries every insight in full
INSIGHTS_LISTED = 15  # by title

# Conditions printed as their own line, in this order.
_CONDITIONS = (
    "Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond",
    "One-Time Filter", "Sort Key", "Presorted Key", "Group Key", "Cache Key", "Order By",
    "Conflict Resolution", "Conflict Arbiter Indexes",
)


@dataclass(frozen=True)
class _Level:
    """How much detail one rendering attempt allows."""

    optional_nodes: int  # nodes shown beyond the mandatory ones
    attr_clip: int  # characters per attribute value; 0 drops attribute lines
    attrs_for_optional: bool
    insight_clip: int  # characters of evidence and of each fix; 0 keeps only titles
    title_clip: int
    query_clip: int  # 0 leaves the query out
    header_extras: bool  # settings and notes
    node_facts: bool = True  # rows and buffers on each node line


_LEVELS = (
    _Level(40, 160, True, 600, 200, 600, True),
    _Level(20, 120, True, 300, 160, 300, True),
    _Level(8, 90, False, 200, 140, 160, True),
    _Level(0, 70, False, 140, 120, 100, False),
    _Level(0, 50, False, 0, 100, 0, False),
    _Level(0, 0, False, 0, 80, 0, False),
    _Level(0, 0, False, 0, 60, 0, False, node_facts=False),
)


def render_text(plan: Plan, insights: list[Insight], *, query: str | None = None,
                notes: Iterable[str] = ()) -> str:
    """The plan and its insights as compact text for a model: header, insights, then nodes."""
    notes = [n for n in notes if n]
    budget = int(plan.raw_size * SIZE_RATIO) if len(plan.nodes) >= SIZE_RULE_NODES else None
    selection = _Selection(plan, insights)
    text = ""
    for level in _LEVELS:
        text = _render(plan, insights, query, notes, selection, level)
        if budget is None or len(text) <= budget:
            return text
    # Even the tersest form is too long. Without timing nothing obliges us to show a node, so
    # the cheapest go first; then insight lines go from the end, keeping the heavy nodes.
    if not plan.has_timing:
        droppable = sorted(selection.must - selection.named - {0},
                           key=lambda nid: selection.shares[nid])
        while droppable and len(text) > budget:
            selection.must.discard(droppable.pop(0))
            text = _render(plan, insights, query, notes, selection, _LEVELS[-1])
    head, sep, tree = text.partition("\nPlan")
    lines = head.split("\n")
    while lines and len("\n".join(lines)) + len(sep) + len(tree) > budget:
        lines.pop()
    return "\n".join(lines) + sep + tree


def to_json(plan: Plan, insights: list[Insight], *, query: str | None,
            server_version: str | None, analyzed: bool) -> dict[str, Any]:
    """The CLI's --json output. Row counts are totals over loops, the estimate included, so that
    `plan_rows` and `actual_rows` compare directly; `loops` says how many executions they span."""
    return {
        "query": query,
        "server_version": server_version,
        "analyzed": analyzed,
        "planning_time_ms": plan.planning_time_ms,
        "execution_time_ms": plan.execution_time_ms,
        "summary": render_text(plan, insights, query=query),
        "nodes": [
            {
                "id": node.id,
                "parent": node.parent,
                "node_type": node.node_type,
                "relation": node.relation,
                "inclusive_ms": _round(node.inclusive_ms, 3),
                "exclusive_ms": _round(node.exclusive_ms, 3),
                "exclusive_pct": _round(node.exclusive_pct, 2),
                "plan_rows": node.plan_rows_total,
                "actual_rows": node.actual_rows_total,
                "loops": node.loops,
                "estimate_factor": _round(node.estimate_factor, 2),
            }
            for node in plan.nodes
        ],
        "insights": [
            {
                "id": ins.id,
                "title": ins.title,
                "score": ins.score,
                "node": ins.node,
                "relation": ins.relation,
                "columns": list(ins.columns),
                "evidence": ins.evidence,
                "fix": {"sql": ins.fix.sql, "ecto": ins.fix.ecto},
            }
            for ins in insights
        ],
    }


# ---------------------------------------------------------------------------------------------
# Which nodes to show

def shares(plan: Plan) -> list[float]:
    """Each node's share of the work, in %: of the time when timed, else of the estimated cost.

    Cost shares are of the sum of exclusive costs rather than of the root's cost: under a LIMIT
    the root costs a fraction of its children, which would put shares above 100%.
    """
    if plan.has_timing:
        return [node.exclusive_pct or 0.0 for node in plan.nodes]
    total = sum(node.exclusive_cost for node in plan.nodes)
    return [node.exclusive_cost / total * 100.0 if total > 0 else 0.0 for node in plan.nodes]


class _Selection:
    def __init__(self, plan: Plan, insights: list[Insight]) -> None:
        self.plan = plan
        self.shares = shares(plan)
        self.named = {ins.node for ins in insights
                      if ins.node is not None and 0 <= ins.node < len(plan.nodes)}
        self.must = {n.id for n in plan.nodes if self.shares[n.id] >= MUST_SHOW_PCT} | self.named
        if plan.nodes:
            self.must.add(0)
        if len(plan.nodes) <= SHOW_ALL_NODES:
            self.optional = [n.id for n in plan.nodes if n.id not in self.must]
        else:
            # Time first; then a few cheap nodes whose facts (a spill, a huge mis-estimate,
            # a filter discarding most rows) explain the time spent elsewhere.
            rest = sorted((n for n in plan.nodes if n.id not in self.must),
                          key=lambda n: -self.shares[n.id])
            heavy = [n.id for n in rest if self.shares[n.id] >= OPTIONAL_PCT]
            notable = [n.id for n in rest if self.shares[n.id] < OPTIONAL_PCT and _stands_out(n)]
            self.optional = heavy + notable[:NOTABLE_NODES]

    def shown(self, optional_count: int) -> set[int]:
        shown = set(self.must) | set(self.optional[:optional_count])
        # A CTE that holds shown nodes is introduced by its own root line.
        for nid in list(shown):
            node = self.plan.nodes[nid]
            while node.parent is not None:
                node = self.plan.nodes[node.parent]
            shown.add(node.id)
        return shown


def _stands_out(node: PlanNode) -> bool:
    """Facts about a node that matter even when it takes little time."""
    get = node.attrs.get
    if node.estimate_factor and node.estimate_factor >= 100 and (node.actual_rows_total or 0) >= 100:
        return True
    if get("Sort Space Type") == "Disk" or _num(get("Disk Usage")) > 0:
        return True
    if _num(get("Hash Batches")) > 1 or _num(get("Lossy Heap Blocks")) > 0:
        return True
    if node.workers_planned and node.workers_launched is not None \
            and node.workers_launched < node.workers_planned:
        return True
    removed = node.rows_removed_by_filter + node.rows_removed_by_join_filter
    return removed >= 10_000 and removed > 10 * (node.actual_rows_total or 0)


# ---------------------------------------------------------------------------------------------
# Writing it out

def _render(plan: Plan, insights: list[Insight], query: str | None, notes: list[str],
            selection: _Selection, level: _Level) -> str:
    out = _header(plan, query, notes, level)
    out.append("")
    out.extend(_insight_lines(insights, level))
    out.append("")
    out.extend(_tree_lines(plan, selection, level))
    return "\n".join(out)


def _header(plan: Plan, query: str | None, notes: list[str], level: _Level) -> list[str]:
    if not plan.analyzed:
        kind = "EXPLAIN without ANALYZE: estimates only (no actual rows or times)"
    elif not plan.has_timing:
        kind = "EXPLAIN ANALYZE with TIMING OFF: actual rows, no times (shares are of cost)"
    else:
        kind = "EXPLAIN ANALYZE" + (" with BUFFERS" if plan.has_buffers else "")
    parts = [kind]
    if plan.planning_time_ms is not None:
        parts.append(f"planning {_ms(plan.planning_time_ms)}")
    if plan.execution_time_ms is not None:
        parts.append(f"execution {_ms(plan.execution_time_ms)}")
    elif plan.total_ms is not None:
        parts.append(f"root node {_ms(plan.total_ms)}")
    parts.append(f"{len(plan.nodes)} nodes")
    lines = [" | ".join(parts)]

    total = plan.total_ms
    if plan.triggers:
        trig = []
        for t in plan.triggers:
            text = t.name + (f" on {t.relation}" if t.relation else "")
            if t.time_ms is not None:
                text += f" {_ms(t.time_ms)}{_pct_of(t.time_ms, total)}"
            if t.calls is not None:
                text += f", calls {t.calls:,}"
            trig.append(text)
        lines.append("Triggers (time outside the plan nodes): " + _clip("; ".join(trig), 400))
    if plan.jit_total_ms is not None:
        functions = (plan.jit or {}).get("Functions")
        lines.append(f"JIT: {_ms(plan.jit_total_ms)}{_pct_of(plan.jit_total_ms, total)}"
                     + (f", {functions} functions" if functions is not None else ""))
    if plan.serialization_ms is not None:
        lines.append(f"Serialization (output conversion, outside the nodes): "
                     f"{_ms(plan.serialization_ms)}{_pct_of(plan.serialization_ms, total)}")
    if level.header_extras and plan.settings:
        settings = ", ".join(f"{k}={v}" for k, v in plan.settings.items())
        lines.append("Settings: " + _clip(settings, level.attr_clip * 2 or 80))
    query = query or plan.query_text
    if query and level.query_clip:
        lines.append("Query: " + _clip(query, level.query_clip))
    if level.header_extras:
        lines.extend("Note: " + _clip(note, 300) for note in notes)
    return lines


def _insight_lines(insights: list[Insight], level: _Level) -> list[str]:
    if not insights:
        return ["Insights: none."]
    lines = ["Insights (strongest first; score = share of the total time a fix could save):"]
    for i, ins in enumerate(insights[:INSIGHTS_LISTED], 1):
        where = f"node #{ins.node}, " if ins.node is not None else ""
        lines.append(f"{i}. [{ins.id}] {_clip(ins.title, level.title_clip)} "
                     f"({where}score {ins.score:.2f})")
        clip = level.insight_clip if i <= INSIGHTS_IN_FULL else 0
        if clip:
            if ins.evidence:
                lines.append("   Evidence: " + _clip(ins.evidence, clip))
            if ins.fix.sql:
                lines.extend(_block("   Fix (SQL):", ins.fix.sql, clip))
            if ins.fix.ecto:
                lines.extend(_block("   Fix (Ecto):", ins.fix.ecto, clip))
        elif ins.fix.sql and i <= INSIGHTS_IN_FULL:
            lines.append("   Fix: " + _clip(ins.fix.sql, 70))
    if len(insights) > INSIGHTS_LISTED:
        lines.append(f"… and {len(insights) - INSIGHTS_LISTED} more with lower scores.")
    return lines


def _block(label: str, code: str, limit: int) -> list[str]:
    """Code keeps its lines (a comment must not swallow the code after it), clipped to `limit`
    characters in all."""
    lines = [ln.rstrip() for ln in code.strip("\n").splitlines() if ln.strip()]
    if len(lines) == 1:
        return [f"{label} {_clip(lines[0], limit)}"]
    out, used = [label], 0
    for ln in lines:
        if used + len(ln) > limit:
            out.append("     " + ln[: max(limit - used, 0)] + "…")
            break
        out.append("     " + ln)
        used += len(ln)
    return out


def _tree_lines(plan: Plan, selection: _Selection, level: _Level) -> list[str]:
    if not plan.nodes:
        return ["Plan: empty."]
    shown = selection.shown(level.optional_nodes)
    measure = "self time" if plan.has_timing else "self cost"
    if len(shown) == len(plan.nodes):
        title = f"Plan ({measure}, % of the total):"
    elif not level.node_facts:
        title = f"Plan ({measure}; {len(shown)} of {len(plan.nodes)} nodes):"
    else:
        title = (f"Plan ({measure}, % of the total; {len(shown)} of {len(plan.nodes)} nodes shown, "
                 f"each hidden one under {MUST_SHOW_PCT:g}%; … marks hidden levels):")
    lines = [title]
    indent: dict[int, int] = {}
    marked: set[int] = set()
    for root in plan.roots:
        if root.id not in shown:
            continue
        for node in _preorder(plan, root):
            if node.id not in shown:
                continue
            hidden: list[int] = []
            up = node.parent
            while up is not None and up not in shown:
                hidden.append(up)
                up = plan.nodes[up].parent
            depth = 0 if up is None else indent[up] + 1
            if hidden:
                top = hidden[-1]  # the hidden node just below the shown ancestor
                if top not in marked:
                    marked.add(top)
                    lines.append("  " * depth + "…")
                depth += 1
            indent[node.id] = depth
            detailed = level.attr_clip and (node.id in selection.must or level.attrs_for_optional)
            lines.extend(_node_lines(plan, node, selection.shares[node.id], depth,
                                     level.attr_clip if detailed else 0, level.node_facts))
    return lines


def _preorder(plan: Plan, root: PlanNode):
    yield root
    yield from plan.descendants(root)


def _node_lines(plan: Plan, node: PlanNode, node_share: float, depth: int,
                attr_clip: int, facts: bool = True) -> list[str]:
    get = node.attrs.get
    name = ("Parallel " if get("Parallel Aware") is True else "") + node.node_type
    if node.relation:
        name += f" on {node.relation}"
        if node.alias and node.alias != node.relation:
            name += f" {node.alias}"
    elif isinstance(get("CTE Name"), str):
        name += f" on {get('CTE Name')}"
    elif isinstance(get("Function Name"), str):
        name += f" on {get('Function Name')}"
    if node.index_name:
        name += f" using {node.index_name}"
    if node.subplan_name:
        name += f" [{node.subplan_name}]"

    parts = [f"#{node.id} {_clip(name, 160)}"]
    if plan.has_timing and node.exclusive_ms is not None:
        parts.append(f"{_ms(node.exclusive_ms)} ({node_share:.1f}%)")
    elif not plan.has_timing:
        parts.append(f"cost {_cost(node.exclusive_cost)} ({node_share:.1f}%)")
    if facts:
        parts.append(_rows(node))
        buffers = _buffers(node)
        if buffers:
            parts.append(buffers)
    pad = "  " * depth
    lines = [pad + " | ".join(parts)]
    if attr_clip:
        pad += "   "
        for key in _CONDITIONS:
            value = get(key)
            if value not in (None, "", []):
                lines.append(f"{pad}{key}: {_clip(_text(value), attr_clip)}")
        stats = _stats(node)
        if stats:
            lines.append(pad + _clip(", ".join(stats), attr_clip * 2))
    return lines


def _rows(node: PlanNode) -> str:
    if not node.analyzed:
        return f"est rows {_n(node.plan_rows)}"
    if node.never_executed:
        return f"never executed (est rows {_n(node.plan_rows)})"
    if node.loops > 1:
        text = (f"rows {_n(node.actual_rows)}/loop x {_n(node.loops)} loops "
                f"(est {_n(node.plan_rows)}/loop)")
    else:
        text = f"rows {_n(node.actual_rows)} (est {_n(node.plan_rows)})"
    if node.estimate_factor and node.estimate_factor >= ESTIMATE_FLAG:
        text += f" {node.estimate_factor:,.0f}x {node.estimate_direction}-estimated"
    return text


def _buffers(node: PlanNode) -> str:
    b = node.exclusive_buffers
    hit, read = b.shared_hit + b.local_hit, b.shared_read + b.local_read
    dirtied, written = b.shared_dirtied + b.local_dirtied, b.shared_written + b.local_written
    parts = []
    if hit or read:
        parts.append(f"hit {_n(hit)} read {_n(read)}")
    if dirtied or written:
        parts.append(f"dirtied {_n(dirtied)} written {_n(written)}")
    if b.temp_read or b.temp_written:
        parts.append(f"temp read {_n(b.temp_read)} written {_n(b.temp_written)}")
    return ("buffers " + ", ".join(parts)) if parts else ""


def _stats(node: PlanNode) -> list[str]:
    get = node.attrs.get
    out = []
    if node.rows_removed_by_filter:
        out.append(f"rows removed by filter {_n(node.rows_removed_by_filter)}")
    if node.rows_removed_by_join_filter:
        out.append(f"rows removed by join filter {_n(node.rows_removed_by_join_filter)}")
    if node.rows_removed_by_index_recheck:
        out.append(f"rows removed by index recheck {_n(node.rows_removed_by_index_recheck)}")
    if get("Sort Method"):
        space = get("Sort Space Used")
        out.append(f"sort {get('Sort Method')}"
                   + (f" {_n(space)} kB {get('Sort Space Type', '')}".rstrip() if space is not None else ""))
    if get("Hash Batches") is not None:
        text = f"hash batches {_n(get('Hash Batches'))}"
        if get("Original Hash Batches") not in (None, get("Hash Batches")):
            text += f" (planned {_n(get('Original Hash Batches'))})"
        out.append(text)
    if _num(get("HashAgg Batches")) > 1 or _num(get("Disk Usage")) > 0:
        out.append(f"hashagg batches {_n(get('HashAgg Batches', 0))}, disk {_n(get('Disk Usage', 0))} kB")
    if get("Peak Memory Usage") is not None:
        out.append(f"peak memory {_n(get('Peak Memory Usage'))} kB")
    if node.workers_planned is not None:
        text = f"workers planned {node.workers_planned}"
        if node.workers_launched is not None:
            text += f" launched {node.workers_launched}"
        out.append(text)
    if get("Heap Fetches") is not None and node.raw_node_type == "Index Only Scan":
        out.append(f"heap fetches {_n(get('Heap Fetches'))}")
    if _num(get("Lossy Heap Blocks")) > 0:
        out.append(f"lossy blocks {_n(get('Lossy Heap Blocks'))} (exact {_n(get('Exact Heap Blocks', 0))})")
    if get("Cache Hits") is not None:
        out.append(f"cache hits {_n(get('Cache Hits'))} misses {_n(get('Cache Misses', 0))}"
                   + (f" evictions {_n(get('Cache Evictions'))}" if _num(get("Cache Evictions")) else ""))
    if _num(get("Index Searches")) > 1:
        out.append(f"index searches {_n(get('Index Searches'))}")
    return out


# ---------------------------------------------------------------------------------------------
# Formatting

def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    if limit <= 0:
        return ""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _n(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    if value >= 1:
        return f"{value:.2f} ms"
    return f"{value:.3f} ms"


def _cost(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2f}"


def _pct_of(part: float, total: float | None) -> str:
    return f" ({part / total * 100:.1f}% of the total)" if total else ""


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
