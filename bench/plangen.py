"""Synthetic EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) plans of any size.

The corpus stops at 72 nodes; the parser and renderer must also cope with ORM-generated plans
of thousands (wide partitioned Appends, deep join chains). Plans are built as PostgreSQL would
print them: per-loop times and rows, loops multiplied down nested-loop inner sides, buffers and
costs cumulative, a parallel section under a Gather, InitPlans whose time shows up in the node
that uses their `$n`, SubPlans charged to their parent, and a CTE charged to its CTE Scan.
Each node's true exclusive time is known, so tests can check the parser against it.

Times are drawn from a heavy-tailed distribution plus a few hot spots (what real slow plans
look like: most nodes negligible, a handful dominant).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

_TABLES = ["orders", "order_items", "customers", "products", "invoices", "payments", "shipments",
           "events", "accounts", "users", "line_items", "audit_log", "sessions", "tickets"]


@dataclass
class _Node:
    kind: str
    relationship: str | None = None
    subplan_name: str | None = None
    children: list["_Node"] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    own_ms: float = 0.0  # wall time spent in the node itself, before printing rounds it
    loops: int = 1  # how many times the node runs (already multiplied by workers)
    workers: int = 1
    rows: int = 1  # per loop
    plan_rows: int = 1
    own_cost: float = 1.0
    own_buffers: tuple[int, int] = (0, 0)  # (hit, read)
    runs_inside: "_Node | None" = None  # an InitPlan or CTE that executes within this node
    truth_ms: float = 0.0  # own_ms adjusted to what the printed, rounded times imply


@dataclass
class GeneratedPlan:
    document: list[dict[str, Any]]  # what EXPLAIN prints: [{"Plan": ..., ...}]
    exclusive_ms: list[float]  # true exclusive time of each node, in pre-order
    own_buffers: list[tuple[int, int]]  # true exclusive (hit, read), in pre-order
    hot_nodes: list[int]  # pre-order ids given a large share of the time


def generate_plan(n_nodes: int = 10_000, *, seed: int = 0, timing: bool = True,
                  max_depth: int = 60) -> GeneratedPlan:
    """A plan with exactly `n_nodes` nodes."""
    return _Generator(seed, timing, max_depth).generate(n_nodes)


class _Generator:
    def __init__(self, seed: int, timing: bool, max_depth: int) -> None:
        self.rng = random.Random(seed)
        self.timing = timing
        self.max_depth = max_depth
        self.param = 0
        self.initplans = 0
        self.subplans = 0
        self.alias_n = 0

    # -- shape ---------------------------------------------------------------------------------

    def generate(self, n: int) -> GeneratedPlan:
        if n < 1:
            raise ValueError("a plan has at least one node")
        if n < 12:
            root = self.subtree(n, 0, parallel=False)
        else:
            # Limit -> Hash Join(CTE Scan, Hash -> Append(Gather -> parallel part, serial part))
            # with the CTE hung off the Hash Join as an InitPlan, where PostgreSQL attaches CTEs.
            cte_size = max(2, min(n // 50, 200))
            parallel_size = (n - 6 - cte_size) * 3 // 10
            serial_size = n - 6 - cte_size - parallel_size
            cte = self.subtree(cte_size, 1, parallel=False)
            cte.relationship, cte.subplan_name = "InitPlan", "CTE recent"
            scan = self.leaf_kind("CTE Scan", "Outer")
            scan.attrs.update({"CTE Name": "recent", "Alias": "recent"})
            scan.runs_inside = cte
            gather = _Node("Gather", "Member",
                           children=[self.subtree(parallel_size, 4, parallel=True)],
                           attrs={"Workers Planned": 2, "Workers Launched": 2, "Single Copy": False})
            gather.children[0].relationship = "Outer"
            serial = self.subtree(serial_size, 4, parallel=False)
            serial.relationship = "Member"
            append = _Node("Append", "Outer", children=[gather, serial])
            hash_ = _Node("Hash", "Inner", children=[append])
            join = _Node("Hash Join", "Outer", children=[cte, scan, hash_],
                         attrs={"Join Type": "Inner", "Hash Cond": "(recent.id = o.customer_id)"})
            root = _Node("Limit", None, children=[join])
        self.assign_loops(root, 1, 1)
        order = self.preorder(root)
        assert len(order) == n, (len(order), n)
        self.assign_times(order)
        hot = self.heat(order)
        plan_json, root_ms = self.emit(root)
        document = [{"Plan": plan_json, "Planning Time": 3.217, "Triggers": []}]
        if self.timing:
            document[0]["Execution Time"] = round(root_ms + 1.5, 3)
        truth = [node.truth_ms if self.timing else 0.0 for node in order]
        return GeneratedPlan(document, truth, [node.own_buffers for node in order], hot)

    def subtree(self, budget: int, depth: int, *, parallel: bool) -> _Node:
        rng = self.rng
        if budget == 1:
            return self.leaf()
        if budget == 2:
            choice = rng.random()
            if choice < 0.3:
                return _Node("Bitmap Heap Scan", children=[self.bitmap_index()],
                             attrs=self.scan_attrs("Recheck Cond"))
            if choice < 0.45 and not parallel:
                return self.with_subplan()
            wrapper = rng.choice(["Sort", "Aggregate", "Materialize", "Limit"])
            return self.wrap(wrapper, self.leaf())
        if budget == 3 and not parallel and rng.random() < 0.4:
            return self.with_initplan()
        if depth >= self.max_depth or (budget > 40 and rng.random() < 0.3):
            return self.append(budget, depth, parallel)
        choice = rng.random()
        if choice < 0.12:
            kind = rng.choice(["Sort", "Aggregate", "Materialize"])
            return self.wrap(kind, self.subtree(budget - 1, depth + 1, parallel=parallel))
        if budget < 4:
            outer = self.subtree(1, depth + 1, parallel=parallel)
            inner = self.subtree(budget - 2, depth + 1, parallel=parallel)
            return self.nested_loop(outer, inner)
        left = rng.randint(1, budget - 3)
        right = budget - 1 - left
        if choice < 0.55:
            outer = self.subtree(left, depth + 1, parallel=parallel)
            inner = self.subtree(right - 1, depth + 1, parallel=parallel)
            return self.hash_join(outer, inner)
        if choice < 0.85:
            outer = self.subtree(left, depth + 1, parallel=parallel)
            inner = self.subtree(right, depth + 1, parallel=parallel)
            return self.nested_loop(outer, inner)
        if right < 2 or left < 2:
            outer = self.subtree(left, depth + 1, parallel=parallel)
            inner = self.subtree(right - 1, depth + 1, parallel=parallel)
            return self.hash_join(outer, inner)
        outer = self.wrap("Sort", self.subtree(left - 1, depth + 2, parallel=parallel))
        inner = self.wrap("Sort", self.subtree(right - 1, depth + 2, parallel=parallel))
        return _Node("Merge Join", children=[outer, inner],
                     attrs={"Join Type": "Inner", "Merge Cond": "(a.id = b.a_id)"})

    def append(self, budget: int, depth: int, parallel: bool) -> _Node:
        members = min(budget - 1, self.rng.randint(2, 12))
        sizes = [1] * members
        for _ in range(budget - 1 - members):
            sizes[self.rng.randrange(members)] += 1
        children = [self.subtree(size, depth + 1, parallel=parallel) for size in sizes]
        for child in children:
            child.relationship = "Member"
        return _Node("Append", children=children)

    def wrap(self, kind: str, child: _Node) -> _Node:
        attrs: dict[str, Any] = {}
        if kind == "Sort":
            attrs = {"Sort Key": ["created_at DESC", "id"], "Sort Method": "quicksort",
                     "Sort Space Used": self.rng.randint(25, 4000), "Sort Space Type": "Memory"}
        elif kind == "Aggregate":
            attrs = {"Strategy": self.rng.choice(["Hashed", "Sorted", "Plain"]),
                     "Partial Mode": "Simple", "Group Key": ["customer_id"]}
        child.relationship = child.relationship or "Outer"
        return _Node(kind, children=[child], attrs=attrs)

    def hash_join(self, outer: _Node, inner_body: _Node) -> _Node:
        outer.relationship = "Outer"
        inner_body.relationship = "Outer"
        hash_ = _Node("Hash", "Inner", children=[inner_body],
                      attrs={"Hash Buckets": 1024, "Original Hash Buckets": 1024, "Hash Batches": 1,
                             "Original Hash Batches": 1, "Peak Memory Usage": 72})
        return _Node("Hash Join", children=[outer, hash_],
                     attrs={"Join Type": "Inner", "Hash Cond": "(o.customer_id = c.id)"})

    def nested_loop(self, outer: _Node, inner: _Node) -> _Node:
        outer.relationship = "Outer"
        inner.relationship = "Inner"
        return _Node("Nested Loop", children=[outer, inner], attrs={"Join Type": "Inner"})

    def with_initplan(self) -> _Node:
        param = f"${self.param}"
        self.param += 1
        self.initplans += 1
        body = self.leaf()
        body.relationship = "Outer"
        agg = _Node("Aggregate", "InitPlan", f"InitPlan {self.initplans} (returns {param})",
                    children=[body], attrs={"Strategy": "Plain", "Partial Mode": "Simple"})
        user = self.leaf(kind="Seq Scan")
        user.attrs["Filter"] = f"(o.customer_id = {param})"
        user.children = [agg]
        user.runs_inside = agg
        return user

    def with_subplan(self) -> _Node:
        self.subplans += 1
        name = f"SubPlan {self.subplans}"
        inner = self.leaf(kind="Index Scan")
        inner.relationship, inner.subplan_name = "SubPlan", name
        user = self.leaf(kind="Seq Scan")
        user.attrs["Filter"] = f"(NOT ({name}))"
        user.children = [inner]
        return user

    def bitmap_index(self) -> _Node:
        return _Node("Bitmap Index Scan", "Outer",
                     attrs={"Index Name": f"{self.rng.choice(_TABLES)}_status_idx",
                            "Index Cond": "(status = 'open'::text)"})

    def leaf(self, kind: str | None = None) -> _Node:
        kind = kind or self.rng.choices(["Seq Scan", "Index Scan", "Index Only Scan"], [4, 4, 2])[0]
        return self.leaf_kind(kind, None)

    def leaf_kind(self, kind: str, relationship: str | None) -> _Node:
        node = _Node(kind, relationship)
        if kind == "Seq Scan":
            node.attrs = self.scan_attrs("Filter")
        elif kind in ("Index Scan", "Index Only Scan"):
            node.attrs = self.scan_attrs("Index Cond")
            node.attrs["Index Name"] = f"{node.attrs['Relation Name']}_pkey"
            node.attrs["Scan Direction"] = "Forward"
        return node

    def scan_attrs(self, condition: str) -> dict[str, Any]:
        table = self.rng.choice(_TABLES)
        self.alias_n += 1
        alias = f"{table[0]}{self.alias_n}"
        return {"Relation Name": table, "Schema": "public", "Alias": alias,
                condition: f"(({alias}.tenant_id = 42) AND ({alias}.deleted_at IS NULL))"}

    # -- numbers -------------------------------------------------------------------------------

    def assign_loops(self, node: _Node, loops: int, workers: int) -> None:
        rng = self.rng
        node.loops, node.workers = loops, workers
        node.rows = max(0, int(rng.lognormvariate(3, 2))) if node.kind != "Limit" else 50
        node.plan_rows = max(1, int(node.rows * rng.choice([1, 1, 1, 0.5, 2, 0.02, 30])))
        node.own_cost = round(rng.uniform(0.5, 500), 2)
        if node.kind in ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
            node.own_buffers = (rng.randint(0, 2000), rng.randint(0, 300))
        if node.kind == "Seq Scan":
            node.attrs["Rows Removed by Filter"] = rng.randint(0, 50_000)
        if node.kind == "Index Only Scan":
            node.attrs["Heap Fetches"] = rng.randint(0, node.rows * loops + 1)
        for i, child in enumerate(node.children):
            child_loops, child_workers = loops, workers
            if node.kind == "Gather":
                child_workers = node.attrs["Workers Launched"] + 1
                child_loops = loops * child_workers
            if child.relationship in ("InitPlan",):
                child_loops, child_workers = 1, 1
            elif child.relationship == "SubPlan":
                child_loops, child_workers = min(max(node.rows, 1) * loops, 50_000), 1
            elif node.kind == "Nested Loop" and i == 1:
                # Capped: nested inner sides would otherwise multiply into billions of loops.
                outer_rows = max(node.children[0].rows, 1)
                child_loops = max(loops, min(loops * min(outer_rows, 400), 50_000))
            self.assign_loops(child, child_loops, child_workers)

    def assign_times(self, order: list[_Node]) -> None:
        for node in order:
            # Heavy tail: most nodes take microseconds, some milliseconds.
            node.own_ms = round(min(self.rng.lognormvariate(-3, 1.6), 50.0) + 0.002, 3)

    def heat(self, order: list[_Node]) -> list[int]:
        """Give a few leaves a dominant share, as in real slow plans."""
        candidates = [i for i, node in enumerate(order)
                      if not node.children and node.kind != "CTE Scan" and node.loops == node.workers]
        hot = sorted(self.rng.sample(candidates, min(4, len(candidates))))
        base = sum(node.own_ms for node in order)
        for rank, i in enumerate(hot):
            order[i].own_ms = round(base * (0.6 - 0.12 * rank), 3)
        return hot

    # -- output --------------------------------------------------------------------------------

    def emit(self, root: _Node) -> tuple[dict[str, Any], float]:
        """The JSON tree and the root's wall time. Post-order, children in plan order, so a CTE
        (its Hash Join's first child) is printed before the CTE Scan that runs it."""
        wall: dict[int, float] = {}  # what the printed, rounded per-loop time implies
        buffers: dict[int, tuple[int, int]] = {}
        costs: dict[int, float] = {}
        out: dict[int, dict[str, Any]] = {}
        stack: list[tuple[_Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if not done:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children))
                continue
            key = id(node)
            inside = sum(wall[id(c)] for c in node.children if c.relationship != "InitPlan")
            if node.runs_inside is not None:
                inside += wall[id(node.runs_inside)]
            # EXPLAIN prints time per loop and per process, to the microsecond: derive the true
            # exclusive time from what is printed, so tests can compare exactly.
            scale = node.workers / node.loops
            per_loop = round((node.own_ms + inside) * scale, 3)
            while per_loop / scale < inside:
                per_loop = round(per_loop + 0.001, 3)
            wall[key] = per_loop * node.loops / node.workers
            node.truth_ms = max(wall[key] - inside, 0.0)
            hit, read = node.own_buffers
            cost = node.own_cost
            for child in node.children:
                h, r = buffers[id(child)]
                hit, read = hit + h, read + r
                cost += costs[id(child)]
            buffers[key], costs[key] = (hit, read), cost
            out[key] = self.node_json(node, per_loop, hit, read, cost,
                                      [out[id(child)] for child in node.children])
        return out[id(root)], wall[id(root)]

    def node_json(self, node: _Node, per_loop: float, hit: int, read: int, cost: float,
                  children: list[dict]) -> dict[str, Any]:
        raw: dict[str, Any] = {"Node Type": node.kind}
        if node.relationship:
            raw["Parent Relationship"] = node.relationship
        if node.subplan_name:
            raw["Subplan Name"] = node.subplan_name
        raw["Parallel Aware"] = node.workers > 1 and node.kind in ("Seq Scan", "Index Scan")
        raw["Async Capable"] = False
        for key in ("Relation Name", "Schema", "Alias", "Index Name", "Scan Direction",
                    "Strategy", "Partial Mode", "Join Type", "CTE Name"):
            if key in node.attrs:
                raw[key] = node.attrs[key]
        raw["Startup Cost"] = round(cost * 0.1, 2)
        raw["Total Cost"] = round(cost, 2)
        raw["Plan Rows"] = node.plan_rows
        raw["Plan Width"] = 48
        if self.timing:
            raw["Actual Startup Time"] = round(per_loop * 0.1, 3)
            raw["Actual Total Time"] = per_loop
        raw["Actual Rows"] = node.rows
        raw["Actual Loops"] = node.loops
        raw["Output"] = ["id", "tenant_id", "customer_id", "status", "created_at", "total_cents"]
        for key, value in node.attrs.items():
            raw.setdefault(key, value)
        raw.update({
            "Shared Hit Blocks": hit, "Shared Read Blocks": read, "Shared Dirtied Blocks": 0,
            "Shared Written Blocks": 0, "Local Hit Blocks": 0, "Local Read Blocks": 0,
            "Local Dirtied Blocks": 0, "Local Written Blocks": 0, "Temp Read Blocks": 0,
            "Temp Written Blocks": 0,
        })
        if children:
            raw["Plans"] = children
        return raw

    @staticmethod
    def preorder(root: _Node) -> list[_Node]:
        order, stack = [], [root]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(reversed(node.children))
        return order
