"""Time reading, analysing and rendering large EXPLAIN plans.

    .venv/bin/python bench/bench_plan.py [--runs 7] [--nodes 10000]

Plans: the corpus' largest (pev2-very-large.json) and a generated one (bench/plangen.py),
printed with PostgreSQL's two-space indentation. Each step's figure is the median of --runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

from plangen import generate_plan  # noqa: E402

from tools.explain.plan import parse_plan  # noqa: E402
from tools.explain.render import render_text  # noqa: E402

CORPUS_PLAN = REPO.parent / "shared" / "corpus" / "plans" / "pev2-very-large.json"


def load_analyze() -> tuple[Callable | None, str | None]:
    try:
        from tools.explain.insights import analyze
    except Exception as exc:  # the catalogue is written in parallel; bench what exists
        return None, f"analyse skipped: tools.explain.insights.analyze not importable ({exc})"
    return analyze, None


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        result = None  # free the previous run's objects outside the timed region
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def bench(name: str, text: str, runs: int, analyze: Callable | None) -> dict:
    # The anchor, measured in the same run: decoding the JSON is the least any reader must do.
    anchor_ms, _ = median_ms(lambda: json.loads(text), runs)
    parse_ms, plan = median_ms(lambda: parse_plan(text), runs)
    insights, analyse_ms = [], None
    if analyze is not None:
        analyse_ms, insights = median_ms(lambda: analyze(plan), runs)
    render_ms, summary = median_ms(lambda: render_text(plan, insights), runs)
    return {
        "plan": name, "nodes": len(plan.nodes), "raw": len(text), "anchor": anchor_ms, "parse": parse_ms,
        "analyse": analyse_ms, "render": render_ms,
        "total": parse_ms + (analyse_ms or 0.0) + render_ms,
        "insights": len(insights), "summary": len(summary),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    analyze, note = load_analyze()
    plans = []
    if CORPUS_PLAN.is_file():
        plans.append(("pev2-very-large.json", CORPUS_PLAN.read_text()))
    else:
        print(f"note: {CORPUS_PLAN} not found; corpus plan skipped")
    generated = generate_plan(args.nodes, seed=args.seed)
    plans.append((f"generated {args.nodes:,} nodes", json.dumps(generated.document, indent=2)))

    rows = [bench(name, text, args.runs, analyze) for name, text in plans]

    header = (f"{'plan':<24} {'nodes':>6} {'raw JSON':>10} {'parse':>9} {'analyse':>9} "
              f"{'render':>9} {'total':>9} {'x json':>7} {'insights':>8} {'summary':>8} {'ratio':>7}")
    print(f"median of {args.runs} runs, times in ms; 'x json' = total / json.loads of the same text")
    print(header)
    print("-" * len(header))
    for r in rows:
        analyse = f"{r['analyse']:9.1f}" if r["analyse"] is not None else f"{'-':>9}"
        print(f"{r['plan']:<24} {r['nodes']:>6,} {r['raw'] / 1024:>8.0f}KB {r['parse']:9.1f} "
              f"{analyse} {r['render']:9.1f} {r['total']:9.1f} {r['total'] / r['anchor']:>6.1f}x {r['insights']:>8} "
              f"{r['summary']:>8,} {r['summary'] / r['raw']:>7.2%}")
    if note:
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
