"""The text a model reads and the CLI's JSON, on the corpus and on generated large plans."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tools.explain.findings import Fix, Insight
from tools.explain.plan import Plan, parse_plan
from tools.explain.render import render_text, shares, to_json

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from plangen import generate_plan  # noqa: E402

NODE_LINE = re.compile(r"^\s*#(\d+) ", re.M)


def shown_ids(text: str) -> set[int]:
    return {int(m) for m in NODE_LINE.findall(text)}


def load(corpus_dir: Path, name: str) -> Plan:
    return parse_plan((corpus_dir / f"{name}.json").read_text())


def heavy_ids(plan: Plan) -> set[int]:
    return {n.id for n, share in zip(plan.nodes, shares(plan)) if share >= 5.0}


def check_size_rule(plan: Plan, text: str, label: str) -> None:
    assert len(plan.nodes) >= 50
    assert len(text) <= plan.raw_size * 0.10, f"{label}: {len(text)} > 10% of {plan.raw_size}"
    if plan.has_timing:
        must = {n.id for n in plan.nodes if n.exclusive_pct >= 5.0}
        assert must, label
    else:
        must = heavy_ids(plan)
    missing = must - shown_ids(text)
    assert not missing, f"{label}: nodes with >= 5% not shown: {sorted(missing)}"


def insight(node: int, *, long: bool = False) -> Insight:
    filler = " and the planner keeps choosing it" * (40 if long else 0)
    return Insight(
        id="seq-scan-filter", title=f"Seq Scan discards most rows (node {node})", score=0.42,
        node=node, relation="tickets", columns=["status"],
        evidence="Rows Removed by Filter 99,000 of 100,000 read" + filler,
        fix=Fix(sql="CREATE INDEX CONCURRENTLY tickets_status_idx ON tickets (status);",
                ecto='create index(:tickets, [:status], concurrently: true)'),
    )


# -- the size bound and the heavy nodes ----------------------------------------------------------

def test_corpus_plans_render_and_large_ones_obey_the_size_rule(corpus_dir):
    large = 0
    for path in sorted(corpus_dir.glob("*.json")):
        if path.stem.endswith("-malformed"):
            continue
        plan = parse_plan(path.read_text())
        text = render_text(plan, [])
        assert text.count("\n") >= 3, path.name
        # Every node with 5% of the time (or cost) is shown, whatever the plan's size.
        assert heavy_ids(plan) <= shown_ids(text), path.name
        if len(plan.nodes) >= 50:
            large += 1
            check_size_rule(plan, text, path.name)
            check_size_rule(plan, render_text(plan, [insight(plan.nodes[-1].id)]), path.name)
    assert large >= 1


@pytest.mark.parametrize("n_nodes, seed", [(50, 0), (51, 1), (64, 2), (120, 3), (400, 4),
                                           (2000, 5), (10_000, 6)])
def test_generated_plans_obey_the_size_rule(n_nodes, seed):
    generated = generate_plan(n_nodes, seed=seed)
    # Compact JSON is the smallest a plan can be, so the hardest budget to meet.
    plan = parse_plan(json.dumps(generated.document, separators=(",", ":")))
    assert len(plan.nodes) == n_nodes
    hot = set(generated.hot_nodes)
    assert hot <= {n.id for n in plan.nodes if n.exclusive_pct >= 5.0}
    check_size_rule(plan, render_text(plan, []), f"{n_nodes} nodes")
    tips = [insight(generated.hot_nodes[0], long=True), insight(n_nodes // 2, long=True),
            insight(n_nodes - 1, long=True)]
    text = render_text(plan, tips, query="SELECT * FROM tickets WHERE status = 'open' " * 40,
                       notes=["generic plan: no params were given " * 10])
    check_size_rule(plan, text, f"{n_nodes} nodes with insights")
    assert {t.node for t in tips} <= shown_ids(text)


def test_generated_plan_without_timing_uses_cost_shares():
    plan = parse_plan(json.dumps(generate_plan(300, seed=9, timing=False).document))
    assert plan.analyzed and not plan.has_timing
    text = render_text(plan, [])
    check_size_rule(plan, text, "timing off")
    assert "TIMING OFF" in text and " ms (" not in text and "cost " in text
    assert sum(shares(plan)) == pytest.approx(100.0)


def test_without_timing_the_size_bound_wins_over_cost_shares():
    # 19 of 59 scans carry 5.2% of the cost each, in JSON too terse to list them all in 10%.
    scans = [{"Node Type": "Seq Scan", "Relation Name": f"t{i}", "Total Cost": 50.0 if i < 19 else 0.5,
              "Plan Rows": 1, "Plan Width": 4} for i in range(59)]
    doc = {"Plan": {"Node Type": "Append", "Total Cost": sum(s["Total Cost"] for s in scans),
                    "Plan Rows": 1, "Plan Width": 4, "Plans": scans}}
    plan = parse_plan(json.dumps(doc))
    text = render_text(plan, [])
    assert len(text) <= plan.raw_size * 0.10
    shown = shown_ids(text)
    assert 0 in shown and len(shown & heavy_ids(plan)) >= 5
    assert shown <= heavy_ids(plan) | {0}


def test_hidden_ancestors_collapse_into_ellipsis_lines(corpus_dir):
    plan = load(corpus_dir, "pev2-very-large")
    text = render_text(plan, [])
    shown = shown_ids(text)
    assert len(shown) < len(plan.nodes)
    assert re.search(r"^\s*…$", text, re.M)
    hidden = next(n for n in plan.nodes if n.id not in shown)
    assert f"#{hidden.id} " not in text


# -- content -------------------------------------------------------------------------------------

def test_insights_come_first_with_their_fixes(corpus_dir):
    plan = load(corpus_dir, "pev2-three-joins-missing-index")
    scan = next(n for n in plan.nodes if n.relation == "question")
    text = render_text(plan, [insight(scan.id)], query="SELECT * FROM question", notes=["a note"])
    assert text.index("Insights (") < text.index("Plan (") < text.index(f"#{scan.id} ")
    for fragment in ("[seq-scan-filter]", "Seq Scan discards most rows", "Rows Removed by Filter 99,000",
                     "CREATE INDEX CONCURRENTLY tickets_status_idx",
                     "create index(:tickets, [:status], concurrently: true)",
                     "Query: SELECT * FROM question", "Note: a note", "score 0.42"):
        assert fragment in text
    assert "planning 1.21 ms | execution 6.25 ms" in text
    scan_lines = text[text.index(f"#{scan.id} "):].splitlines()
    assert scan_lines[0].strip().startswith(f"#{scan.id} Seq Scan on question question_1 | 0.984 ms (15.7%)")
    assert scan_lines[1].strip() == "Filter: (question_1.exam_id = 1)"
    assert scan_lines[2].strip() == "rows removed by filter 2,637"


def test_fix_code_keeps_its_lines_and_long_lists_are_cut():
    plan = parse_plan({"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Total Cost": 1.0,
                                "Plan Rows": 1}})
    migration = "defmodule M do\n  # a comment\n  def change do\n    create index(:t, [:a])\n  end\nend\n"
    tips = [insight(0).model_copy(update={"fix": Fix(sql="CREATE INDEX ON t (a);", ecto=migration)})]
    text = render_text(plan, tips)
    assert "   Fix (Ecto):\n     defmodule M do\n       # a comment\n       def change do\n" in text
    many = [insight(0).model_copy(update={"title": f"finding {i}", "score": 1 - i / 100})
            for i in range(40)]
    text = render_text(plan, many)
    assert "15. [seq-scan-filter] finding 14" in text and "finding 15" not in text
    assert "… and 25 more with lower scores." in text
    assert text.count("Evidence:") == 5


def test_node_details_that_matter(corpus_dir):
    sort = render_text(load(corpus_dir, "pev2-parallel-disk-sort"), [])
    assert "sort external merge 123,600 kB Disk" in sort
    assert "Parallel Seq Scan on t1" in sort
    assert "400.681" not in sort and "401 ms (9.5%)" in sort

    verbose = render_text(load(corpus_dir, "pev2-parallel-verbose"), [])
    assert "workers planned 4 launched 2" in verbose
    assert "rows removed by filter 114,960" in verbose

    large = render_text(load(corpus_dir, "pev2-very-large"), [])
    assert "rows 1/loop x 70,445 loops (est 1/loop)" in large
    assert "buffers hit 211,335 read 0" in large

    cte = render_text(load(corpus_dir, "pgflame-cte"), [])
    assert "50,207x over-estimated" in cte
    assert "[CTE testing_comments]" in cte

    trig = render_text(load(corpus_dir, "pev2-insert-modifytable"), [])
    assert "Triggers (time outside the plan nodes): foo_system_time_generated_always on foo 0.435 ms" in trig
    assert "#0 Insert on foo" in trig

    jit = render_text(load(corpus_dir, "pganalyze-jit"), [])
    assert "JIT: 1.29 ms" in jit

    ser = render_text(load(corpus_dir, "pev2-serialization-planning"), [])
    assert "Serialization (output conversion, outside the nodes): 25.5 ms" in ser

    plain = render_text(load(corpus_dir, "pev2-subquery-scan"), [])
    assert "without ANALYZE" in plain and " ms (" not in plain
    assert "#2 Seq Scan on pg_class | cost 18 (97.3%) | est rows 410" in plain

    off = render_text(load(corpus_dir, "pganalyze-simple"), [])
    assert "TIMING OFF" in off and "rows 1 (est 1)" in off

    memo = render_text(load(corpus_dir, "pganalyze-memoize"), [])
    assert "cache hits 980 misses 20" in memo


def test_long_attributes_are_clipped():
    condition = "(" + " OR ".join(f"(t.c{i} = {i})" for i in range(400)) + ")"
    plan = parse_plan({"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Filter": condition,
                                "Plan Rows": 1, "Total Cost": 10.0}})
    text = render_text(plan, [])
    (line,) = [ln for ln in text.splitlines() if "Filter:" in ln]
    assert len(line) < 200 and line.endswith("…")


def test_small_plans_are_shown_whole(corpus_dir):
    plan = load(corpus_dir, "pev2-aggregate-four-joins")
    assert shown_ids(render_text(plan, [])) == set(range(len(plan.nodes)))


# -- JSON ----------------------------------------------------------------------------------------

def test_to_json_shape(corpus_dir):
    plan = load(corpus_dir, "pev2-very-large")
    tips = [insight(69)]
    out = to_json(plan, tips, query="SELECT 1", server_version="17.2", analyzed=True)
    assert list(out) == ["query", "server_version", "analyzed", "planning_time_ms",
                         "execution_time_ms", "summary", "nodes", "insights"]
    assert out["summary"] == render_text(plan, tips, query="SELECT 1")
    assert (out["query"], out["server_version"], out["analyzed"]) == ("SELECT 1", "17.2", True)
    assert len(out["nodes"]) == len(plan.nodes)
    for entry, node in zip(out["nodes"], plan.nodes):
        assert list(entry) == ["id", "parent", "node_type", "relation", "inclusive_ms",
                               "exclusive_ms", "exclusive_pct", "plan_rows", "actual_rows",
                               "loops", "estimate_factor"]
        assert entry["id"] == node.id and entry["parent"] == node.parent
        assert entry["actual_rows"] == node.actual_rows_total
        assert entry["plan_rows"] == node.plan_rows_total
    big = next(e for e in out["nodes"] if e["loops"] == 70445)
    assert big["actual_rows"] == 70445 and big["inclusive_ms"] == pytest.approx(70.445)
    assert big["plan_rows"] == 70445 and big["estimate_factor"] == 1.0
    (tip,) = out["insights"]
    assert list(tip) == ["id", "title", "score", "node", "relation", "columns", "evidence", "fix"]
    assert list(tip["fix"]) == ["sql", "ecto"]
    assert tip["node"] == 69 and tip["columns"] == ["status"]
    assert json.loads(json.dumps(out)) == out

    plain = to_json(load(corpus_dir, "pev2-oneline"), [], query=None, server_version=None,
                    analyzed=False)
    assert plain["nodes"][0]["exclusive_ms"] is None and plain["planning_time_ms"] is None
    assert plain["insights"] == []
