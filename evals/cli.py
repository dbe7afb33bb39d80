"""`ecto-optimizer eval ...`: list, prepare, check, clean and run eval cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

eval_app = typer.Typer(no_args_is_help=True, help="Eval cases: realistic Ecto projects with tasks and checks.")


def _print_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@eval_app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print a JSON list of case ids.")) -> None:
    """List the eval cases."""
    from evals.case import list_cases

    cases = list_cases()
    if as_json:
        _print_json([c.id for c in cases])
        return
    for case in cases:
        typer.echo(f"{case.id:32} {case.kind:12} {case.title}")


@eval_app.command("prepare")
def prepare_command(
    case: str = typer.Argument(..., help="Case id (see `eval list`)."),
    workspace: Path = typer.Option(..., "--workspace", help="Folder to materialise the project in."),
    server_url: Optional[str] = typer.Option(None, "--server-url",
                                             help="Admin URL of a server to create the database on "
                                                  "(default: $ECTO_OPTIMIZER_EVAL_SERVER, else a private server)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Copy the case's project into WORKSPACE and build its own database; print the URL and the task."""
    from evals.case import load_case
    from evals.workspace import prepare

    task = load_case(case).task
    from agent.cli import progress

    with progress(f"Preparing {case}…"):
        state = prepare(case, workspace, server_url=server_url)
    if as_json:
        _print_json({"case": case, "workspace": state.workspace, "database_url": state.database_url, "task": task})
    else:
        typer.echo(f"DATABASE_URL={state.database_url}")
        typer.echo(task)


@eval_app.command("check")
def check_command(
    case: str = typer.Argument(...),
    workspace: Path = typer.Option(..., "--workspace"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the case's checks on the workspace. Exit 0 when all pass, 1 otherwise."""
    from evals.harness import check_workspace

    result = check_workspace(case, workspace)
    if as_json:
        _print_json(result.model_dump())
    else:
        for c in result.checks:
            typer.echo(f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}")
        typer.echo(f"{case}: {'passed' if result.passed else 'failed'}")
    raise typer.Exit(0 if result.passed else 1)


@eval_app.command("clean")
def clean_command(case: str = typer.Argument(...), workspace: Path = typer.Option(..., "--workspace")) -> None:
    """Drop the workspace's databases (and stop its private server). The files stay."""
    from evals.workspace import State, clean

    state = State.load(workspace)
    if state.case != case:
        raise typer.BadParameter(f"{workspace} holds case {state.case}, not {case}")
    clean(workspace)


@eval_app.command("run")
def run_command(
    cases: Optional[List[str]] = typer.Argument(None, help="Case ids (default: all; with --replay: all recorded)."),
    model: Optional[str] = typer.Option(None, "--model", help="Anthropic model id (needs ANTHROPIC_API_KEY)."),
    offline: bool = typer.Option(False, "--offline", help="Use the offline reference policy instead of a model."),
    record: bool = typer.Option(False, "--record", help="Store each run under evals/recordings/<model>/<case>/."),
    replay: bool = typer.Option(False, "--replay", help="Replay stored recordings with no network."),
    server_url: Optional[str] = typer.Option(None, "--server-url", help="Admin URL of a server for the databases "
                                                                        "(default: a private one for this run)."),
    keep: Optional[Path] = typer.Option(None, "--keep", help="Keep each workspace under this folder."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Prepare each case, run our agent on it, check the outcome, clean up; print the scoreboard.
    Exit 0 when every case passed, 1 otherwise."""
    import os

    from evals.case import list_cases
    from evals.run import REFERENCE, markdown, recorded_cases, run_cases

    if not offline and not replay and not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        typer.echo("error: no ANTHROPIC_API_KEY: use --offline for the reference policy, or --replay", err=True)
        raise typer.Exit(2)
    ids = list(cases or []) or (recorded_cases(model or REFERENCE) if replay else [c.id for c in list_cases()])
    from rich.console import Console

    console = Console(stderr=True)
    board = run_cases(ids, model=model, offline=offline, record=record, replay=replay, server_url=server_url,
                      keep=keep, on_progress=lambda msg: console.log(msg))
    if as_json:
        _print_json(board.model_dump(mode="json"))
    else:
        typer.echo(markdown(board))
        typer.echo(f"\npass rate: {board.pass_rate:.0%}")
    raise typer.Exit(0 if all(c.passed for c in board.cases) else 1)
