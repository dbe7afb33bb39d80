"""`ecto-optimizer run` and `ecto-optimizer chat`: the agent loop on a terminal.

Both build the same session (tools, context, transcript, limits) and differ only in how they
talk to the person: `run` prints one answer (or JSON), `chat` streams and asks before edits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Optional

import typer

from agent.loop import Agent, Limits, Model, RunResult, system_prompt
from agent.transcript import Transcript
from tools.base import Approver, Tool, ToolContext
from tools.redact import secret_values, url_password
from tools.report import Report, assemble

PROJECT = typer.Option(Path("."), "--project", help="The Elixir project to work in (file tools stay inside it).")
DATABASE_URL = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL. Used read-only.")
MODEL = typer.Option(None, "--model", help="Model id; defaults to $ECTO_OPTIMIZER_MODEL, then claude-sonnet-4-6.")
ALLOW_EDITS = typer.Option(False, "--allow-edits", help="Let Edit and Write change files without asking.")
ALLOW_BASH = typer.Option(False, "--allow-bash", help="Let Bash run commands without asking.")
MAX_TURNS = typer.Option(40, "--max-turns", min=1, help="Model responses per task before stopping.")
MAX_COST = typer.Option(5.0, "--max-cost", min=0.0, help="USD budget for the session.")
MAX_TIME = typer.Option(1800.0, "--max-time", min=1.0, help="Seconds per task before stopping.")


def default_tools() -> list[Tool]:
    from tools.registry import all_tools

    return all_tools()


def has_api_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"))


def build_model(model_id: str | None, *, stream: bool = False, offline: bool = False,
                on_text: Callable[[str], None] | None = None) -> Model:
    """The model for a session: Claude through the SDK, or the offline reference policy."""
    from agent.cli import fail
    from agent.models import AnthropicModel

    if offline:
        from agent.reference_policy import ReferencePolicy

        return ReferencePolicy()
    if not has_api_key():
        raise fail("ANTHROPIC_API_KEY is not set (nor ANTHROPIC_AUTH_TOKEN): export it to run the agent", 2)
    try:
        retries = int(os.environ.get("ECTO_OPTIMIZER_MAX_RETRIES", "2"))
    except ValueError:
        raise fail("ECTO_OPTIMIZER_MAX_RETRIES must be a whole number", 2) from None
    return AnthropicModel(model_id, max_retries=retries, stream=stream, on_text=on_text)


def build_agent(model: Model, *, project: Path, database_url: str | None, allow_edits: bool, allow_bash: bool,
                limits: Limits, approve: Approver | None = None, on_event: Callable[[dict], None] | None = None
                ) -> Agent:
    from agent.cli import fail

    if not project.is_dir():
        raise fail(f"project directory not found: {project}")
    database_url = database_url or os.environ.get("DATABASE_URL")
    ctx = ToolContext(project_root=project, database_url=database_url, allow_edits=allow_edits,
                      allow_bash=allow_bash, approve=approve)
    tools = default_tools()
    secrets = [*secret_values(), url_password(database_url)]
    agent = Agent(model, tools, ctx, system=system_prompt(tools), limits=limits, secrets=secrets,
                  on_event=on_event)
    runs = os.environ.get("ECTO_OPTIMIZER_RUNS_DIR")
    agent.transcript = Transcript.for_session(agent.session_id, ctx.project_root,
                                              Path(runs) if runs else None, secrets=agent.secrets)
    return agent


def result_json(result: RunResult, report: Report | None = None) -> dict:
    keys = ("type", "subtype", "is_error", "result", "num_turns", "duration_ms", "usage", "total_cost_usd",
            "session_id", "transcript", "stop_reason", "errors")
    data = result.model_dump(mode="json")
    out = {key: data[key] for key in keys}
    if report is not None:
        out["report"] = report.model_dump(mode="json")
    return out


def run(
    task: str = typer.Argument(..., help="What to investigate or fix, in your words (SQL, a log line, a slow page)."),
    project: Path = PROJECT, database_url: Optional[str] = DATABASE_URL, model: Optional[str] = MODEL,
    allow_edits: bool = ALLOW_EDITS, allow_bash: bool = ALLOW_BASH, max_turns: int = MAX_TURNS,
    max_cost: float = MAX_COST, max_time: float = MAX_TIME,
    offline: bool = typer.Option(False, "--offline", help="Use the offline reference policy instead of Claude "
                                                          "(the default when no API key is set)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Work on one task without asking anything, print the answer, exit 0 (or 1 if the run failed)."""
    limits = Limits(max_turns=max_turns, max_cost_usd=max_cost, max_seconds=max_time)
    if not offline and not has_api_key():
        # Useful without a key too: the deterministic policy follows the same workflow with the same tools.
        typer.echo("note: no ANTHROPIC_API_KEY, so the offline reference policy (deterministic, no LLM) does this "
                   "run; set the key to use Claude", err=True)
        offline = True
    agent = build_agent(build_model(model, offline=offline), project=project, database_url=database_url,
                        allow_edits=allow_edits, allow_bash=allow_bash, limits=limits)
    try:
        result = agent.run(task)
    finally:
        agent.close()
    report = assemble(agent.ctx, result.result)
    if as_json:
        typer.echo(json.dumps(result_json(result, report), indent=2))
    else:
        if result.result:
            typer.echo(result.result)
        if result.is_error:
            typer.echo(f"error: {result.subtype}: {'; '.join(result.errors)}", err=True)
        typer.echo(f"[{result.num_turns} turns, ${result.total_cost_usd:.4f}, transcript {result.transcript}]",
                   err=True)
    raise typer.Exit(1 if result.is_error else 0)


def chat(
    project: Path = PROJECT, database_url: Optional[str] = DATABASE_URL, model: Optional[str] = MODEL,
    allow_edits: bool = ALLOW_EDITS, allow_bash: bool = ALLOW_BASH, max_turns: int = MAX_TURNS,
    max_cost: float = MAX_COST, max_time: float = MAX_TIME,
) -> None:
    """Talk with the agent: answers stream in, edits and commands wait for your yes. /cost /reset /exit."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)

    def ask(tool_name: str, summary: str) -> bool:
        try:
            answer = console.input(f"\n[yellow]Allow {escape(tool_name)}[/]: {escape(summary)} \\[y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in ("y", "yes")

    def show(event: dict) -> None:
        if event["type"] == "tool_start":
            params = json.dumps(event.get("input"), ensure_ascii=False)
            console.print(f"\n[dim]⏺ {escape(str(event['name']))}({escape(params[:160])})[/]")
        elif event["type"] == "tool":
            first = (event["output"].splitlines() or [""])[0][:160]
            style = "red" if event["is_error"] else "dim"
            console.print(f"[{style}]  ⎿ {escape(first)}[/]")

    def stream_text(delta: str) -> None:
        console.print(delta, end="", markup=False, soft_wrap=True)

    limits = Limits(max_turns=max_turns, max_cost_usd=max_cost, max_seconds=max_time)
    agent = build_agent(build_model(model, stream=True, on_text=stream_text), project=project,
                        database_url=database_url, allow_edits=allow_edits, allow_bash=allow_bash,
                        limits=limits, approve=ask, on_event=show)
    console.print(f"[bold]ecto-optimizer[/] · {escape(agent.model.model_id)} · {escape(str(agent.ctx.project_root))}"
                  "  [dim](/cost, /reset, /exit)[/]")
    try:
        while True:
            try:
                line = console.input("\n[bold cyan]>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if not line:
                continue
            if line in ("/exit", "/quit"):
                break
            if line == "/cost":
                u = agent.usage
                console.print(f"${agent.cost_usd:.4f}{'' if agent.cost_known else ' (model not priced)'} · "
                              f"{agent.num_turns} turns · in {u.input_tokens:,} · out {u.output_tokens:,} · "
                              f"cache read {u.cache_read_input_tokens:,} · cache write "
                              f"{u.cache_creation_input_tokens:,}")
                continue
            if line == "/reset":
                agent.reset()
                console.print("[dim]conversation cleared[/]")
                continue
            if line.startswith("/"):
                console.print(f"[red]unknown command {escape(line)}[/] (/cost, /reset, /exit)")
                continue
            result = agent.run(line)
            console.print()
            if result.is_error:
                console.print(f"[red]{escape(result.subtype)}: {escape('; '.join(result.errors))}[/]")
    finally:
        agent.close()
        console.print(f"[dim]transcript: {escape(str(agent.transcript.path))}[/]")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("chat")(chat)
