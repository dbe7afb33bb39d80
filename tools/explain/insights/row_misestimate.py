from __future__ import annotations

import math
from typing import Iterable

from tools.explain.ecto_fix import execute_migration, quote_ident
from tools.explain.exprs import JOIN, parse_condition
from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import (
    JOIN_TYPES,
    Example,
    Rule,
    ancestors,
    base_type,
    fmt_rows,
    label,
    relations_below,
    share,
    share_text,
)
from tools.explain.plan import Plan, PlanNode

MIN_FACTOR = 10.0
MIN_ROWS = 100  # the larger of estimate and actual: 1 vs 12 rows changes no plan
# Nodes that pass rows through without choosing anything: the choice a bad estimate affects is
# made above them (a Hash's estimate matters to its Hash Join).
_PASS_THROUGH = {
    "Hash", "Materialize", "Memoize", "Gather", "Gather Merge", "Result", "Subquery Scan", "Append",
}
# Nodes that read all their input before returning a row: below them nothing stops early.
_BLOCKING = {"Sort", "Hash", "Aggregate", "SetOp", "WindowAgg", "Incremental Sort"}
# BitmapAnd/Or always report 0 rows; a function's row count is the constant it declares
# (ROWS, 1000 by default; 100 for XMLTABLE and JSON_TABLE), which no ANALYZE changes.
_NO_STATISTICS = {"BitmapAnd", "BitmapOr", "Function Scan", "Table Function Scan"}
_CONDITION_KEYS = ("Index Cond", "Recheck Cond", "Filter", "Hash Cond", "Merge Cond", "Join Filter")


class RowMisestimate(Rule):
    """Fires where the planner's row estimate is off by at least 10x (pgMustard's threshold;
    PEV2 and depesz colour 10x / 100x / 1000x), and the larger of the two counts is at least
    100 rows. Only the node where the error starts is reported: a node whose child is already
    off by a similar factor in the same direction inherited the error.

    Never reported for never-executed nodes, BitmapAnd/BitmapOr (always 0 actual rows),
    function scans (their estimate is a declared constant), the root (no choice above it
    depends on it), children of a Merge Join (inner re-scans inflate and early stops deflate
    their counts), anything inside a recursive CTE (the planner can only guess there), or
    over-estimates where the node may have been stopped early with no blocking node (Sort,
    Hash, Aggregate) in between: under a LIMIT, on the inner side of a semi/anti join, beside
    a join input that came back empty, inside an InitPlan/SubPlan, or inside a CTE whose
    readers stopped early.

    Score: the time of the plan choice the estimate drives - the nearest join above it
    (skipping Hash, Materialize, Memoize, Gather), whole subtree, or else the consuming node's
    own time - as a share of the total, x min(1, log10(factor) / 2): a 10x error weighs half,
    100x and more fully. Without timing the same shares come from buffers or cost.
    """

    id = "row-misestimate"
    title = "Row estimate far from the actual rows"
    detects = "A node that returned 10x more or fewer rows than the planner estimated."
    why = (
        "The planner picks join methods, join order, and memory use from its row estimates. "
        "An estimate off by orders of magnitude leads to nested loops over huge inputs, hashes "
        "that spill, or sorts that could have been avoided."
    )
    fix = (
        "ANALYZE the table first (stale statistics are the common cause). If the estimate stays "
        "wrong, raise the column's statistics target; for correlated columns filtered together, "
        "CREATE STATISTICS (dependencies, ndistinct, mcv) on them."
    )
    examples = [
        Example(
            note="correlated columns: the planner multiplies their selectivities",
            plan=[{
                "Plan": {
                    "Node Type": "Nested Loop", "Parallel Aware": False, "Join Type": "Inner",
                    "Startup Cost": 0.42, "Total Cost": 890.0, "Plan Rows": 20, "Plan Width": 80,
                    "Actual Startup Time": 0.05, "Actual Total Time": 412.0, "Actual Rows": 20000, "Actual Loops": 1,
                    "Plans": [
                        {
                            "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                            "Relation Name": "addresses", "Alias": "a", "Startup Cost": 0.0, "Total Cost": 4500.0,
                            "Plan Rows": 20, "Plan Width": 40, "Actual Startup Time": 0.02, "Actual Total Time": 30.0,
                            "Actual Rows": 20000, "Actual Loops": 1,
                            "Filter": "(((a.city)::text = 'Paris'::text) AND ((a.country)::text = 'FR'::text))",
                            "Rows Removed by Filter": 180000,
                        },
                        {
                            "Node Type": "Index Scan", "Parent Relationship": "Inner", "Parallel Aware": False,
                            "Scan Direction": "Forward", "Index Name": "users_pkey", "Relation Name": "users",
                            "Alias": "u", "Startup Cost": 0.42, "Total Cost": 8.44, "Plan Rows": 1, "Plan Width": 40,
                            "Actual Startup Time": 0.018, "Actual Total Time": 0.018, "Actual Rows": 1,
                            "Actual Loops": 20000, "Index Cond": "(u.id = a.user_id)",
                        },
                    ],
                },
                "Planning Time": 0.3, "Triggers": [], "Execution Time": 415.0,
            }],
            fires=True, relation="addresses", columns=["city", "country"],
        ),
        Example(
            note="under a LIMIT the scan stops early: fewer rows than estimated is expected",
            plan=[{
                "Plan": {
                    "Node Type": "Limit", "Parallel Aware": False, "Startup Cost": 0.0, "Total Cost": 0.4,
                    "Plan Rows": 10, "Plan Width": 43, "Actual Startup Time": 0.01, "Actual Total Time": 0.02,
                    "Actual Rows": 10, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Relation Name": "tickets", "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 4082.0,
                        "Plan Rows": 100000, "Plan Width": 43, "Actual Startup Time": 0.01,
                        "Actual Total Time": 0.02, "Actual Rows": 10, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 0.05,
            }],
            fires=False,
        ),
        Example(
            note="a never-executed node has 0 rows by definition",
            plan=[{
                "Plan": {
                    "Node Type": "Nested Loop", "Parallel Aware": False, "Join Type": "Left",
                    "Startup Cost": 0.0, "Total Cost": 900.0, "Plan Rows": 5000, "Plan Width": 80,
                    "Actual Startup Time": 0.01, "Actual Total Time": 0.01, "Actual Rows": 0, "Actual Loops": 1,
                    "Plans": [
                        {
                            "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                            "Relation Name": "a", "Alias": "a", "Startup Cost": 0.0, "Total Cost": 1.0,
                            "Plan Rows": 1, "Plan Width": 40, "Actual Startup Time": 0.005,
                            "Actual Total Time": 0.005, "Actual Rows": 0, "Actual Loops": 1,
                        },
                        {
                            "Node Type": "Seq Scan", "Parent Relationship": "Inner", "Parallel Aware": False,
                            "Relation Name": "b", "Alias": "b", "Startup Cost": 0.0, "Total Cost": 800.0,
                            "Plan Rows": 5000, "Plan Width": 40, "Actual Startup Time": 0.0,
                            "Actual Total Time": 0.0, "Actual Rows": 0, "Actual Loops": 0,
                        },
                    ],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 0.05,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        for node in plan.nodes:
            if not _eligible(plan, node):
                continue
            factor = node.estimate_factor or 1.0
            if any(_inherited(child, node) for child in _inherited_from(plan, node)):
                continue
            consumer, subtree = _affected(plan, node)
            if consumer is None:
                continue
            consumer_share, basis = share(plan, consumer, inclusive=subtree)
            weight = min(1.0, math.log10(factor) / 2)
            if consumer_share * weight < min_score:
                continue
            relation, columns = _what(plan, node)
            arrow = "more" if node.estimate_direction == "under" else "fewer"
            yield self.insight(
                title=f"{label(node)}: {fmt_rows(node.actual_rows_total)} rows, "
                f"estimated {fmt_rows(node.plan_rows_total)} ({factor:,.0f}x {node.estimate_direction})",
                score=consumer_share * weight,
                node=node,
                relation=relation,
                columns=columns,
                evidence=(
                    f"{label(node)} returned {fmt_rows(node.actual_rows_total)} rows where the planner expected "
                    f"{fmt_rows(node.plan_rows_total)}{_loops(node)}: {factor:,.0f}x {arrow}. "
                    f"That estimate drove the plan of {label(consumer)}"
                    f"{' and everything under it' if subtree else ''}, {share_text(consumer_share, basis)}."
                ),
                fix=_fix(plan, node, relation, columns),
            )


def _loops(node: PlanNode) -> str:
    return f" in total over {fmt_rows(node.loops)} loops" if node.loops > 1 else ""


def _big_enough(node: PlanNode) -> bool:
    return max(node.actual_rows_total or 0.0, node.plan_rows_total) >= MIN_ROWS


def _eligible(plan: Plan, node: PlanNode) -> bool:
    if not node.analyzed or node.never_executed or node.id == 0:
        return False
    if node.raw_node_type in _NO_STATISTICS:
        return False
    if (node.estimate_factor or 0) < MIN_FACTOR or not _big_enough(node):
        return False
    parent = plan.parent_of(node)
    if parent is not None and parent.raw_node_type == "Merge Join":
        return False
    if _recursive(plan, node):
        return False
    if node.estimate_direction == "over" and _may_stop_early(plan, node):
        return False
    return True


def _recursive(plan: Plan, node: PlanNode) -> bool:
    """Inside a recursive CTE the planner guesses: the work table's size is a fixed multiple
    of the non-recursive term, and no statistics can fix that."""
    if node.raw_node_type in ("WorkTable Scan", "Recursive Union"):
        return True
    if node.raw_node_type == "CTE Scan":
        root = _cte_root(plan, node)
        if root is not None and root.raw_node_type == "Recursive Union":
            return True
    return any(up.raw_node_type == "Recursive Union" for up in ancestors(plan, node))


def _cte_root(plan: Plan, scan: PlanNode) -> PlanNode | None:
    name = scan.get("CTE Name")
    if not isinstance(name, str):
        return None
    return next((n for n in plan.nodes if n.parent is None and n.subplan_name == f"CTE {name}"), None)


def _cte_scans(plan: Plan, root: PlanNode) -> list[PlanNode]:
    name = (root.subplan_name or "")[4:]
    return [n for n in plan.nodes if n.raw_node_type == "CTE Scan" and n.get("CTE Name") == name]


def _may_stop_early(plan: Plan, node: PlanNode, depth: int = 0) -> bool:
    """Whether something above `node` could have stopped pulling rows before it was done."""
    child = node
    while True:
        up = plan.parent_of(child)
        if up is None:
            if depth < 8 and child.subplan_name and child.subplan_name.startswith("CTE "):
                # A CTE is evaluated lazily: it stops when every reader has stopped.
                return any(_may_stop_early(plan, scan, depth + 1) for scan in _cte_scans(plan, root=child))
            return False
        if child.parent_relationship in ("InitPlan", "SubPlan"):
            return True  # EXISTS and scalar sub-queries read only the rows they need
        kind = base_type(up)
        if kind == "Limit":
            return True
        if up.raw_node_type in JOIN_TYPES:
            join_type = up.get("Join Type")
            early = join_type in ("Semi", "Anti", "Right Semi", "Right Anti")
            if early and child.parent_relationship == "Inner":
                return True
            # A join whose other input came back empty stops reading this one (a Hash Join
            # with an empty hash reads one outer row to find out).
            if any(s.id != child.id and s.analyzed and not s.actual_rows_total for s in plan.children(up)):
                return True
        streaming = up.raw_node_type == "Aggregate" and up.get("Strategy") == "Sorted"
        if up.raw_node_type in _BLOCKING and not streaming:
            return False
        child = up


def _inherited_from(plan: Plan, node: PlanNode) -> list[PlanNode]:
    """The nodes whose rows `node` passes on: its children, or for a CTE Scan the CTE itself."""
    kids = list(plan.children(node))
    if node.raw_node_type == "CTE Scan":
        root = _cte_root(plan, node)
        if root is not None:
            kids.append(root)
    return kids


def _inherited(child: PlanNode, node: PlanNode) -> bool:
    """The child is already off in the same direction by at least a tenth of the node's factor."""
    if child.raw_node_type in ("BitmapAnd", "BitmapOr") or child.never_executed:
        return False
    cf = child.estimate_factor or 1.0
    same_way = child.estimate_direction == node.estimate_direction
    return same_way and cf >= MIN_FACTOR and cf * 10 >= (node.estimate_factor or 1.0)


def _affected(plan: Plan, node: PlanNode) -> tuple[PlanNode | None, bool]:
    """The node whose plan the estimate drives, and whether its whole subtree counts."""
    up = plan.parent_of(node)
    if up is None and node.subplan_name and node.subplan_name.startswith("CTE "):
        scans = _cte_scans(plan, node)
        up = plan.parent_of(scans[0]) if scans else None  # a CTE's rows are used where it is read
    while up is not None and up.raw_node_type in _PASS_THROUGH:
        nxt = plan.parent_of(up)
        if nxt is None:
            break
        up = nxt
    if up is None:
        return None, False
    return up, up.raw_node_type in JOIN_TYPES


def _what(plan: Plan, node: PlanNode) -> tuple[str | None, list[str]]:
    """The relation to re-analyse and the columns whose statistics matter."""
    target = node
    if node.raw_node_type == "Bitmap Index Scan":  # the index has no table name; its heap scan has
        parent = plan.parent_of(node)
        target = parent if parent is not None else node
    relation = target.relation
    alias = target.alias
    columns: list[str] = []
    for key in _CONDITION_KEYS:
        cond = node.get(key)
        if not isinstance(cond, str):
            continue
        uses = parse_condition(cond, alias=alias, relation=relation) if relation else parse_condition(cond)
        for use in uses:
            if use.role != JOIN and use.column not in columns:
                columns.append(use.column)
    if relation is None:
        rels = _relations(plan, node)
        relation = rels[0] if len(rels) == 1 else None
    return relation, columns


def _relations(plan: Plan, node: PlanNode) -> list[str]:
    """Tables whose statistics feed the node's estimate, through a CTE Scan into its CTE."""
    found = relations_below(plan, node)
    for n in [node, *plan.descendants(node)]:
        if n.raw_node_type == "CTE Scan":
            root = _cte_root(plan, n)
            if root is not None:
                found += [r for r in relations_below(plan, root) if r not in found]
    return found


def _fix(plan: Plan, node: PlanNode, relation: str | None, columns: list[str]) -> Fix:
    tables = [relation] if relation else _relations(plan, node)
    if not tables:
        return Fix()
    table_list = ", ".join(quote_ident(t) for t in tables)
    sql = [f"ANALYZE {table_list};  -- first: refresh the statistics, then EXPLAIN again"]
    ecto_up, ecto_down = [], []
    plain = [c for c in columns if c.replace("_", "").isalnum()]
    if relation and len(plain) >= 2:
        name = f"{relation}_{'_'.join(plain[:3])}_stats"
        cols = ", ".join(quote_ident(c) for c in plain[:8])
        sql.append("-- if the estimate stays off, the columns are correlated: let the planner learn how")
        create = (
            f"CREATE STATISTICS {quote_ident(name)} (dependencies, ndistinct, mcv) "
            f"ON {cols} FROM {quote_ident(relation)}"
        )
        sql.append(create + ";")
        sql.append(f"ANALYZE {quote_ident(relation)};")
        ecto_up += [create, f"ANALYZE {quote_ident(relation)}"]
        ecto_down += [f"DROP STATISTICS IF EXISTS {quote_ident(name)}", ""]
    elif relation and len(plain) == 1:
        col = quote_ident(plain[0])
        sql.append("-- if the estimate stays off, sample the column in more detail (default target 100)")
        alter = f"ALTER TABLE {quote_ident(relation)} ALTER COLUMN {col} SET STATISTICS 1000"
        sql.append(alter + ";")
        sql.append(f"ANALYZE {quote_ident(relation)};")
        ecto_up += [alter, f"ANALYZE {quote_ident(relation)}"]
        ecto_down += [f"ALTER TABLE {quote_ident(relation)} ALTER COLUMN {col} SET STATISTICS -1", ""]
    if not ecto_up:
        return Fix(sql="\n".join(sql), ecto=f'Repo.query!("ANALYZE {table_list}")')
    name = "improve_" + (relation or "table") + "_statistics"
    ecto = f'# First just: Repo.query!("ANALYZE {table_list}"). If the estimate stays off:\n'
    ecto += execute_migration(name, ecto_up, ecto_down)
    return Fix(sql="\n".join(sql), ecto=ecto)
