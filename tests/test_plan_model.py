"""The plan model against real plans (shared/corpus/plans) and generated ones.

Expected numbers come from the plans themselves and from PEV2's tests as quoted in
shared/reference/explain-plans.md §8, not from running this parser.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tools.errors import InputError
from tools.explain.plan import Plan, parse_plan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from plangen import generate_plan  # noqa: E402

TIMING_OFF = ["pganalyze-simple", "pganalyze-parallel-plan", "pganalyze-insert-into-select",
              "pganalyze-function-call"]


def load(corpus_dir: Path, name: str) -> Plan:
    return parse_plan((corpus_dir / f"{name}.json").read_text())


def good_files(corpus_dir: Path) -> list[Path]:
    files = sorted(p for p in corpus_dir.glob("*.json") if not p.stem.endswith("-malformed"))
    assert len(files) >= 30, "the corpus lost its plans"
    return files


def by_type(plan: Plan, node_type: str):
    return [n for n in plan.nodes if n.node_type == node_type]


# -- shapes and errors ---------------------------------------------------------------------------

def test_every_corpus_plan_parses_into_a_consistent_tree(corpus_dir):
    for path in good_files(corpus_dir):
        text = path.read_text()
        plan = parse_plan(text)
        assert plan.nodes, path.name
        assert plan.raw_size == len(text.strip()), path.name
        for i, node in enumerate(plan.nodes):
            assert node.id == i, path.name
            for child in node.children:
                assert plan.nodes[child].parent == i, path.name
                assert child > i, f"{path.name}: not pre-order"
            if node.parent is not None:
                assert i in plan.nodes[node.parent].children, path.name
                assert node.depth == plan.nodes[node.parent].depth + 1, path.name
            else:
                assert node.depth == 0
                assert i == 0 or (node.parent_relationship == "InitPlan"
                                  and node.subplan_name.startswith("CTE ")), path.name
        # Every node is reachable from a root exactly once.
        seen = [r.id for r in plan.roots] + [d.id for r in plan.roots for d in plan.descendants(r)]
        assert sorted(seen) == list(range(len(plan.nodes))), path.name


def test_malformed_corpus_files_raise_one_line_input_errors(corpus_dir):
    files = sorted(corpus_dir.glob("*-malformed.json"))
    assert len(files) == 2
    messages = {}
    for path in files:
        with pytest.raises(InputError) as err:
            parse_plan(path.read_text())
        message = str(err.value)
        assert message and "\n" not in message
        messages[path.stem] = message
    assert "FORMAT JSON" in messages["pganalyze-bad-format-malformed"]
    assert messages["pev2-double-double-quotes-malformed"].startswith("malformed plan JSON at line 1")
    assert "CSV-quoted" in messages["pev2-double-double-quotes-malformed"]


SEQ = '{"Node Type": "Seq Scan", "Total Cost": 1.0, "Plan Rows": 1, "Plan Width": 4}'


@pytest.mark.parametrize("source, fragment", [
    ("", "empty plan"),
    ("   \n ", "empty plan"),
    ("Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)", "FORMAT JSON"),
    ("[{", "malformed plan JSON at line 1 column 3"),
    ('[{"Plan": {"Node Type": "Seq Scan",}}]', "malformed plan JSON at line 1 column 36"),
    ("[]", "one-element array, got 0"),
    (f'[{{"Plan": {SEQ}}}, {{"Plan": {SEQ}}}]', "one-element array, got 2"),
    ("[1]", "got a JSON number"),
    ("{}", 'no "Plan" key'),
    ('{"Node Type": "Seq Scan"}', 'no "Plan" key'),
    ('{"Plan": 3}', '"Plan" is not an object'),
    ('{"Plan": {"Plans": []}}', 'node 0: no "Node Type"'),
    ('{"Plan": {"Node Type": 7}}', '"Node Type" is not a string'),
    ('{"Plan": {"Node Type": "Limit", "Plans": {}}}', '"Plans" is not an array'),
    ('{"Plan": {"Node Type": "Limit", "Plans": [1]}}', "node 1: a child plan is a JSON number"),
    ('{"Plan": {"Node Type": "Seq Scan", "Total Cost": "abc"}}',
     'node 0 (Seq Scan): "Total Cost" is not a number: "abc"'),
    ('{"Plan": {"Node Type": "Seq Scan", "Actual Rows": true}}', '"Actual Rows" is not a number'),
    ('{"Plan": {"Node Type": "Seq Scan", "Actual Total Time": NaN}}', "NaN is not a number"),
    ('{"Plan": {"Node Type": "Seq Scan", "Relation Name": ["t"]}}', '"Relation Name" is not a string'),
    ('{"Plan": {"Node Type": "Limit", "Plans": [{"Node Type": "Seq Scan", "Shared Hit Blocks": "1"}]}}',
     'node 1 (Seq Scan): "Shared Hit Blocks"'),
    (f'{{"Plan": {SEQ}, "Execution Time": "fast"}}', '"Execution Time" is not a number'),
    (f'{{"Plan": {SEQ}, "Triggers": [{{"Trigger Name": "t", "Time": "x"}}]}}',
     '"Triggers[0].Time" is not a number'),
    (f'{{"Plan": {SEQ}, "Triggers": {{}}}}', '"Triggers" is not an array'),
    (f'{{"Plan": {SEQ}, "Query Identifier": "abc"}}', '"Query Identifier" is not an integer'),
    (f'{{"Plan": {SEQ}, "Settings": []}}', '"Settings" is not an object'),
    (f'{{"Plan": {SEQ}, "JIT": {{"Timing": {{"Total": "x"}}}}}}', '"JIT.Timing.Total" is not a number'),
    (b"\xff\xfe[", "not UTF-8"),
    (42, "got int"),
    ('"just a string"', "got a JSON string"),
])
def test_malformed_input_raises_one_clear_line(source, fragment):
    with pytest.raises(InputError) as err:
        parse_plan(source)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_too_deep_json_is_an_input_error_not_a_recursion_error():
    depth = 5000
    text = '{"Plan": ' + '{"Node Type": "Limit", "Plans": [' * depth + '{"Node Type": "Seq Scan"}' \
        + "]}" * depth + "}"
    with pytest.raises(InputError, match="nested too deeply"):
        parse_plan(text)


def test_deep_plans_within_json_limits_are_walked_without_recursion():
    node: dict = {"Node Type": "Seq Scan", "Actual Total Time": 1.0, "Actual Rows": 1, "Actual Loops": 1}
    for _ in range(450):
        node = {"Node Type": "Limit", "Actual Total Time": node["Actual Total Time"] + 0.5,
                "Actual Rows": 1, "Actual Loops": 1, "Plans": [node]}
    plan = parse_plan({"Plan": node})
    assert len(plan.nodes) == 451
    assert plan.nodes[-1].depth == 450
    assert len(list(plan.descendants(plan.root))) == 450
    assert plan.nodes[-1].exclusive_ms == pytest.approx(1.0)
    assert sum(n.exclusive_ms for n in plan.nodes) == pytest.approx(plan.root.inclusive_ms)


def test_every_accepted_shape_reads_the_same_plan(corpus_dir):
    text = (corpus_dir / "pev2-parallel-disk-sort.json").read_text()
    data = json.loads(text)
    doc = data[0]
    shapes = [
        text,
        text.encode(),
        "\n\n  " + text + "  \n",
        "\ufeff" + text,
        data,
        doc,
        json.dumps(doc),
        json.dumps({"Query Text": "select 1", **doc}),
        json.dumps([{"QUERY PLAN": data}]),  # a result row exported by a SQL client
        json.dumps(json.dumps(data)),  # JSON encoded twice
    ]
    expected = [n.exclusive_ms for n in parse_plan(text).nodes]
    for shape in shapes:
        plan = parse_plan(shape)
        assert [n.exclusive_ms for n in plan.nodes] == expected
        assert plan.execution_time_ms == 4225.445
    assert parse_plan(shapes[7]).query_text == "select 1"


# -- exclusive time ------------------------------------------------------------------------------

def test_exclusive_times_add_up_to_the_root_on_every_timed_corpus_plan(corpus_dir):
    checked = 0
    for path in good_files(corpus_dir):
        plan = parse_plan(path.read_text())
        if not plan.has_timing:
            assert path.stem in TIMING_OFF or not plan.analyzed, path.name
            continue
        checked += 1
        assert all(n.exclusive_ms is not None and n.exclusive_ms >= 0 for n in plan.nodes), path.name
        total = sum(n.exclusive_ms for n in plan.nodes)
        root = plan.root.inclusive_ms
        assert total == pytest.approx(root, rel=0.02, abs=1e-9), path.name
        pct = sum(n.exclusive_pct for n in plan.nodes)
        assert pct == pytest.approx(root / plan.total_ms * 100, rel=0.02), path.name
    assert checked >= 28


def test_parallel_times_divide_by_processes_pev2(corpus_dir):
    plan = load(corpus_dir, "pev2-parallel-disk-sort")
    gather, sort, scan = plan.nodes
    assert scan.workers == sort.workers == 3 and gather.workers == 1
    assert scan.exclusive_ms == pytest.approx(400.681)
    assert sort.exclusive_ms == pytest.approx(2020.558 - 400.681)
    assert gather.exclusive_ms == pytest.approx(3805.404 - 2020.558)
    assert plan.total_ms == 4225.445
    assert scan.exclusive_pct == pytest.approx(400.681 / 4225.445 * 100)


def test_workers_planned_and_launched(corpus_dir):
    plan = load(corpus_dir, "pev2-parallel-verbose")
    assert [n.node_type for n in plan.nodes] == [
        "Finalize Aggregate", "Gather", "Partial Aggregate", "Seq Scan"]
    gather = plan.nodes[1]
    assert (gather.workers_planned, gather.workers_launched) == (4, 2)
    assert [n.workers for n in plan.nodes] == [1, 1, 3, 3]
    scan = plan.nodes[3]
    assert scan.rows_removed_by_filter == 38320 * 3
    assert scan.inclusive_ms == pytest.approx(344.447)

    params = load(corpus_dir, "pganalyze-parallel-params-evaluated")
    launched = {n.id: n.workers_launched for n in by_type(params, "Gather")}
    assert sorted(launched.values()) == [0, 2, 3, 4]
    for gather_id, count in launched.items():
        for child in params.nodes[gather_id].children:
            node = params.nodes[child]
            if node.parent_relationship != "InitPlan":
                # No workers launched: the leader ran it alone.
                assert node.workers == (count or 0) + 1
            else:
                assert node.workers == 1


def test_loops_multiply_per_loop_values(corpus_dir):
    plan = load(corpus_dir, "pev2-very-large")
    hot = [n for n in plan.nodes if n.loops == 70445]
    assert len(hot) == 1
    scan = hot[0]
    assert scan.node_type == "Index Scan" and scan.relation == "pg_attribute"
    assert scan.inclusive_ms == pytest.approx(0.001 * 70445)
    assert scan.actual_rows_total == 70445
    assert scan.plan_rows_total == 70445

    # PEV2's Materialize check, on the corpus' own Materialize: per-loop time x loops minus
    # its child's (single-loop) time.
    (mat,) = by_type(plan, "Materialize")
    child = plan.nodes[mat.children[0]]
    assert mat.loops == 522 and child.loops == 1
    assert mat.exclusive_ms == pytest.approx(0.021 * 522 - 4.067)


def test_memoize_child_runs_only_on_cache_misses(corpus_dir):
    plan = load(corpus_dir, "pganalyze-memoize")
    (memo,) = by_type(plan, "Memoize")
    child = plan.nodes[memo.children[0]]
    assert memo.loops == 1000 and memo.actual_rows_total == 1000
    assert memo.get("Cache Hits") == 980 and memo.get("Cache Misses") == 20
    assert child.loops == memo.get("Cache Misses")
    assert child.node_type == "Index Only Scan"
    assert child.inclusive_ms == pytest.approx(0.002 * 20)
    assert memo.exclusive_ms == 0.0  # 0.000 ms per loop as printed; floored, not negative


def test_ctes_are_moved_out_and_charged_once(corpus_dir):
    plan = load(corpus_dir, "pev2-many-ctes")
    ctes = [n for n in plan.roots if n.id != 0]
    assert [c.subplan_name for c in ctes] == [
        "CTE catalog_variants", "CTE product_color_classifications", "CTE variant_colors",
        "CTE variants_min_prices"]
    for cte in ctes:
        assert cte.parent is None and cte.parent_relationship == "InitPlan"
        assert cte.id not in plan.root.children
    # One scan reads variants_min_prices: it keeps only its own time.
    (scan,) = [n for n in by_type(plan, "CTE Scan") if n.get("CTE Name") == "variants_min_prices"]
    cte = next(c for c in ctes if c.subplan_name == "CTE variants_min_prices")
    assert scan.exclusive_ms == pytest.approx(6.157 - 6.037)
    assert cte.inclusive_ms == pytest.approx(6.037)
    # Six scans read catalog_variants: together they give back its 0.74 ms.
    scans = [n for n in by_type(plan, "CTE Scan") if n.get("CTE Name") == "catalog_variants"]
    assert len(scans) == 6
    before = sum(n.inclusive_ms for n in scans)
    assert sum(n.exclusive_ms for n in scans) == pytest.approx(before - 0.74)

    # A CTE hung under its own CTE Scan (PEV2's very large sample) is cut off all the same.
    large = load(corpus_dir, "pev2-very-large")
    (cte_q,) = [n for n in large.roots if n.subplan_name == "CTE q"]
    (scan_q,) = by_type(large, "CTE Scan")
    assert cte_q.parent is None and scan_q.children == []
    assert scan_q.exclusive_ms == pytest.approx(4.145 - 2.855)


def test_never_executed_nodes(corpus_dir):
    plan = load(corpus_dir, "pgflame-cte")
    never = [n for n in plan.nodes if n.never_executed]
    assert len(never) >= 9
    for node in never:
        assert node.loops == 0 and node.actual_rows_total == 0
        assert node.estimate_factor is None and node.estimate_direction is None
        assert node.exclusive_ms == 0.0
    simple = load(corpus_dir, "pev2-simple-join")
    assert [n.never_executed for n in simple.nodes] == [False, False, False, True, True]


def test_initplan_time_is_taken_from_the_node_that_uses_it(corpus_dir):
    plan = load(corpus_dir, "pganalyze-parallel-params-evaluated")
    gathers = [n for n in by_type(plan, "Gather") if n.get("Params Evaluated")]
    first = next(g for g in gathers if g.get("Params Evaluated") == ["$1"])
    # 7.405 ms, minus its Seq Scan (0.305 ms x 4 loops / 4 processes), minus InitPlan 1 (0.491 ms)
    # that the Gather evaluated before launching its workers.
    assert first.exclusive_ms == pytest.approx(7.405 - 0.305 - 0.491)
    initplan = next(n for n in plan.nodes if n.subplan_name == "InitPlan 1 (returns $1)")
    assert initplan.parent == first.id and initplan.inclusive_ms == pytest.approx(0.491)

    # No node names $0 here (no VERBOSE): the time comes out of the one node that could hold it.
    fdw = load(corpus_dir, "pganalyze-postgres-fdw")
    scans = [n for n in fdw.nodes if n.relation == "async_p1" and n.parent == 6]
    assert scans[0].exclusive_ms == pytest.approx(0.795 - 0.587)
    assert sum(n.exclusive_ms for n in fdw.nodes) == pytest.approx(1.14)


def test_pg17_initplan_names_are_matched():
    doc = {"Plan": {
        "Node Type": "Seq Scan", "Relation Name": "t", "Total Cost": 10.0, "Plan Rows": 5,
        "Actual Total Time": 2.0, "Actual Rows": 5, "Actual Loops": 1,
        "Filter": "(t.x > (InitPlan 1).col1)",
        "Plans": [{"Node Type": "Aggregate", "Strategy": "Plain", "Parent Relationship": "InitPlan",
                   "Subplan Name": "InitPlan 1", "Actual Total Time": 1.5, "Actual Rows": 1,
                   "Actual Loops": 1, "Total Cost": 4.0, "Plan Rows": 1}],
    }}
    plan = parse_plan(doc)
    assert plan.root.exclusive_ms == pytest.approx(0.5)
    assert plan.nodes[1].exclusive_ms == pytest.approx(1.5)
    assert plan.root.exclusive_cost == pytest.approx(6.0)


def test_initplan_under_result_is_subtracted_as_a_child():
    doc = {"Plan": {
        "Node Type": "Result", "Actual Total Time": 3.0, "Actual Rows": 1, "Actual Loops": 1,
        "Output": ["$0"],
        "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "InitPlan",
                   "Subplan Name": "InitPlan 1 (returns $0)", "Actual Total Time": 2.5,
                   "Actual Rows": 1, "Actual Loops": 1}],
    }}
    plan = parse_plan(doc)
    assert [n.exclusive_ms for n in plan.nodes] == pytest.approx([0.5, 2.5])


def test_subplans_are_charged_to_their_parent(corpus_dir):
    plan = load(corpus_dir, "pganalyze-one-time-filter")
    join = plan.nodes[1]
    sub = next(n for n in plan.nodes if n.subplan_name == "SubPlan 1")
    assert sub.parent == join.id and sub.loops == 10
    assert join.exclusive_ms == pytest.approx(0.053 - 0.005 - 0.010 - 0.002 * 10)


# -- rows, estimates, buffers, costs -------------------------------------------------------------

def test_pg18_fractional_rows_and_serialization(corpus_dir):
    plan = load(corpus_dir, "pev2-serialization-planning")
    scan = plan.root
    assert scan.actual_rows == 100.0 and isinstance(scan.actual_rows, float)
    assert scan.get("Disabled") is False
    assert scan.estimate_factor == pytest.approx(1270 / 100) and scan.estimate_direction == "over"
    assert plan.serialization_ms == 25.481
    assert plan.has_buffers and scan.exclusive_buffers.shared_hit == 1

    doc = {"Plan": {"Node Type": "Index Scan", "Plan Rows": 1, "Actual Rows": 0.25,
                    "Actual Loops": 4, "Actual Total Time": 0.01}}
    node = parse_plan(doc).root
    assert node.actual_rows_total == 1.0
    assert node.estimate_factor == 4.0 and node.estimate_direction == "over"


def test_timing_off_plans_have_rows_but_no_times(corpus_dir):
    for name in TIMING_OFF:
        plan = load(corpus_dir, name)
        assert plan.analyzed and not plan.has_timing, name
        assert plan.total_ms is None
        for node in plan.nodes:
            assert node.inclusive_ms is None and node.exclusive_ms is None, name
            assert node.exclusive_pct is None
            assert node.actual_rows is not None and node.actual_rows_total is not None, name
    plan = load(corpus_dir, "pganalyze-insert-into-select")
    (inner,) = [n for n in plan.nodes if n.loops == 393]
    assert inner.actual_rows_total == inner.actual_rows * 393


def test_unanalysed_plans(corpus_dir):
    for name in ("pev2-subquery-scan", "pev2-oneline", "pganalyze-custom-plan-citus"):
        plan = load(corpus_dir, name)
        assert not plan.analyzed and not plan.has_timing
        for node in plan.nodes:
            assert not node.analyzed and node.actual_rows is None and node.estimate_factor is None
            assert node.plan_rows_total == node.plan_rows
    plan = load(corpus_dir, "pev2-subquery-scan")
    assert [n.exclusive_cost for n in plan.nodes] == pytest.approx([2.27 - 1.77, 0.0, 18.1])


def test_estimate_factor_direction_and_exclusions(corpus_dir):
    plan = load(corpus_dir, "pgflame-cte")
    testing = next(n for n in plan.nodes if n.subplan_name == "CTE testing_comments")
    assert testing.estimate_factor == pytest.approx(50207) and testing.estimate_direction == "over"
    very = load(corpus_dir, "pev2-very-large")
    loop = next(n for n in very.nodes if n.loops == 193 and n.node_type == "Nested Loop")
    assert loop.estimate_factor == pytest.approx(365) and loop.estimate_direction == "under"

    doc = {"Plan": {"Node Type": "Bitmap Heap Scan", "Plan Rows": 10, "Actual Rows": 500,
                    "Actual Loops": 1, "Plans": [
                        {"Node Type": "BitmapAnd", "Plan Rows": 10, "Actual Rows": 0, "Actual Loops": 1},
                    ]}}
    heap, band = parse_plan(doc).nodes
    assert heap.estimate_factor == 50 and heap.estimate_direction == "under"
    assert band.estimate_factor is None
    zero = parse_plan({"Plan": {"Node Type": "Seq Scan", "Plan Rows": 100, "Actual Rows": 0,
                                "Actual Loops": 1}}).root
    assert zero.estimate_factor is None


def test_exclusive_buffers_and_costs(corpus_dir):
    plan = load(corpus_dir, "pev2-aggregate-four-joins")
    assert plan.root.buffers.shared_read == 1392
    assert sum(n.exclusive_buffers.shared_read for n in plan.nodes) == 1392
    assert sum(n.exclusive_buffers.shared_hit for n in plan.nodes) == plan.root.buffers.shared_hit
    for node in plan.nodes:
        kids = sum(plan.nodes[c].total_cost for c in node.children)
        assert node.exclusive_cost == pytest.approx(max(node.total_cost - kids, 0.0))
    # CTEs were children in the JSON: their cost is inside the parent's, as PostgreSQL adds it.
    ctes = load(corpus_dir, "pev2-many-ctes")
    kids = sum(n.total_cost for n in ctes.nodes if n.parent is None and n.id) + 291.08
    assert ctes.root.exclusive_cost == pytest.approx(1470.87 - kids)


def test_display_names(corpus_dir):
    expect = {
        "pganalyze-groupingset-hashagg": "MixedAggregate",
        "pganalyze-groupingset-sorting": "GroupAggregate",
        "pev2-aggregate-four-joins": "HashAggregate",
        "pganalyze-tablesample": "Aggregate",
        "pganalyze-union": "HashSetOp",
        "pev2-insert-modifytable": "Insert",
    }
    for name, display in expect.items():
        plan = load(corpus_dir, name)
        node = next(n for n in plan.nodes if n.node_type == display)
        assert node.raw_node_type in ("Aggregate", "SetOp", "ModifyTable"), name
    plan = parse_plan({"Plan": {"Node Type": "ModifyTable", "Operation": "Delete", "Plans": [
        {"Node Type": "Aggregate", "Strategy": "Hashed", "Partial Mode": "Partial"}]}})
    assert [n.node_type for n in plan.nodes] == ["Delete", "Partial HashAggregate"]
    assert [n.raw_node_type for n in plan.nodes] == ["ModifyTable", "Aggregate"]


# -- summary sections ----------------------------------------------------------------------------

def test_triggers_jit_settings_and_query_identifier(corpus_dir):
    plan = load(corpus_dir, "pev2-insert-modifytable")
    assert [(t.name, t.relation, t.time_ms, t.calls) for t in plan.triggers] == [
        ("foo_system_time_generated_always", "foo", 0.435, 1),
        ("foo_system_time_write_history", "foo", 0.207, 1)]
    assert (plan.planning_time_ms, plan.execution_time_ms, plan.total_ms) == (0.056, 0.824, 0.824)
    trig = load(corpus_dir, "pganalyze-trigger").triggers[0]
    assert (trig.constraint_name, trig.relation) == ("parted_trig", "parted1_constr")

    jit = load(corpus_dir, "pganalyze-jit")
    assert jit.jit_total_ms == 1.291 and jit.jit["Functions"] == 1
    assert jit.execution_time_ms is None and jit.total_ms == pytest.approx(2007.489)

    pg17 = parse_plan({"Plan": {"Node Type": "Result"}, "JIT": {"Functions": 3, "Timing": {
        "Generation": {"Deform": 0.1, "Total": 0.5}, "Inlining": 1.0, "Optimization": 2.0,
        "Emission": 3.0, "Total": 6.5}}})
    assert pg17.jit_total_ms == 6.5
    no_total = parse_plan({"Plan": {"Node Type": "Result"}, "JIT": {"Timing": {
        "Generation": {"Deform": 0.1, "Total": 0.5}, "Inlining": 1.0, "Optimization": 2.0,
        "Emission": 3.0}}})
    assert no_total.jit_total_ms == pytest.approx(6.5)

    assert load(corpus_dir, "pganalyze-incremental-sort").settings == {"work_mem": "2MB"}
    assert load(corpus_dir, "pganalyze-queryid").query_identifier == 4617670033822514000
    assert load(corpus_dir, "pganalyze-simple").query_text.startswith("SELECT abalance")


# -- large plans ---------------------------------------------------------------------------------

def test_generated_plan_matches_its_true_exclusive_times():
    generated = generate_plan(3000, seed=7)
    plan = parse_plan(json.dumps(generated.document))
    assert len(plan.nodes) == 3000
    assert any(n.subplan_name and n.subplan_name.startswith("InitPlan") for n in plan.nodes)
    assert any(n.subplan_name and n.subplan_name.startswith("SubPlan") for n in plan.nodes)
    assert any(n.workers == 3 for n in plan.nodes)
    for node, truth in zip(plan.nodes, generated.exclusive_ms):
        assert node.exclusive_ms == pytest.approx(truth, abs=1e-6), node.id
    assert plan.nodes[2].subplan_name == "CTE recent" and plan.nodes[2].parent is None
    for node, (hit, read) in zip(plan.nodes, generated.own_buffers):
        # PEV2 leaves InitPlan, SubPlan and CTE buffers in the parent: node 1 held the CTE.
        if node.id == 1 or any(plan.nodes[k].subplan_name for k in node.children):
            continue
        assert (node.exclusive_buffers.shared_hit, node.exclusive_buffers.shared_read) == (hit, read)


def test_ten_thousand_nodes_parse_without_quadratic_blowup():
    text = json.dumps(generate_plan(10_000, seed=3).document)
    started = time.perf_counter()
    plan = parse_plan(text)
    elapsed = time.perf_counter() - started
    assert len(plan.nodes) == 10_000
    assert sum(n.exclusive_ms for n in plan.nodes) == pytest.approx(plan.root.inclusive_ms, rel=1e-6)
    # About 0.3 s on a laptop; an O(n^2) step would take tens of seconds.
    assert elapsed < 3.0


def test_exclusive_buffers_leave_subplans_in_their_parent_like_pev2():
    doc = {"Plan": {
        "Node Type": "Seq Scan", "Shared Hit Blocks": 100, "Shared Read Blocks": 10,
        "Temp Read Blocks": 0, "Filter": "(NOT (SubPlan 1))",
        "Plans": [
            {"Node Type": "Index Scan", "Parent Relationship": "SubPlan", "Subplan Name": "SubPlan 1",
             "Shared Hit Blocks": 60, "Shared Read Blocks": 4, "Temp Read Blocks": 0},
        ]}}
    scan, sub = parse_plan(doc).nodes
    assert (scan.exclusive_buffers.shared_hit, scan.exclusive_buffers.shared_read) == (100, 10)
    assert (sub.exclusive_buffers.shared_hit, sub.exclusive_buffers.shared_read) == (60, 4)
    doc["Plan"]["Plans"][0].pop("Subplan Name")
    scan, _ = parse_plan(doc).nodes
    assert (scan.exclusive_buffers.shared_hit, scan.exclusive_buffers.shared_read) == (40, 6)
