"""The `ecto-optimizer` command line. Commands are thin: each parses options, calls the tool
that does the work, and prints text or `--json`. Bad input of any kind (InputError) becomes one
line on stderr and exit code 2; nothing prints a traceback."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from tools.errors import InputError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="An Ecto/PostgreSQL performance engineer: plans, indexes, N+1s, safe migrations.")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one clear line on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr for long work, only when a person is watching."""
    if sys.stderr.isatty():
        from rich.console import Console

        with Console(stderr=True).status(message):
            yield
    else:
        yield


@app.command()
def explain(
    sql: Optional[str] = typer.Argument(None, help="The SQL, with $1..$n as Ecto logs it ('-' reads stdin). "
                                                   "A logged line with its params list appended also works."),
    params: Optional[str] = typer.Option(None, "--params", help="JSON list, or Ecto's logged params list."),
    database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
    plan_file: Optional[Path] = typer.Option(None, "--plan-file", help="Analyse an EXPLAIN JSON file; no database."),
    no_analyze: bool = typer.Option(False, "--no-analyze", help="Plain EXPLAIN: plan only, nothing is run."),
    allow_writes: bool = typer.Option(False, "--allow-writes",
                                      help="Run INSERT/UPDATE/DELETE/MERGE under ANALYZE; still rolled back."),
    statement_timeout: int = typer.Option(30_000, "--statement-timeout", help="Milliseconds.", min=1),
    lock_timeout: int = typer.Option(1_000, "--lock-timeout", help="Milliseconds.", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
) -> None:
    """Explain a query safely (rolled back, read-only, with timeouts) and say what to fix."""
    from tools.explain.runner import ExplainOptions
    from tools.explain.tool import explain_plan_file, explain_query

    if plan_file is not None and sql is not None:
        raise fail("give either SQL or --plan-file, not both")
    if plan_file is not None:
        report = explain_plan_file(plan_file)
    else:
        if sql is None:
            raise fail("give the SQL to explain, or --plan-file PLAN.json")
        if sql == "-":
            sql = sys.stdin.read()
        options = ExplainOptions(analyze=not no_analyze, allow_writes=allow_writes,
                                 statement_timeout_ms=statement_timeout, lock_timeout_ms=lock_timeout)
        with progress("Running EXPLAIN…"):
            report = explain_query(sql, params, database_url, options)
    if as_json:
        print_json(report.as_json())
    else:
        typer.echo(report.text())


@app.command("tool")
def run_tool(
    name: str = typer.Argument(..., help="The tool's name, as the agent sees it (Read, Grep, explain, ...)."),
    input_json: str = typer.Option("{}", "--input", help="The tool's input as a JSON object."),
    project: Path = typer.Option(Path("."), "--project", help="Project root the file tools are confined to."),
    database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
    allow_edits: bool = typer.Option(False, "--allow-edits", help="Let Edit and Write change files."),
    allow_bash: bool = typer.Option(False, "--allow-bash", help="Let Bash run commands."),
    as_json: bool = typer.Option(False, "--json", help='Print {"tool", "is_error", "output"}.'),
) -> None:
    """Call one agent tool directly, without a model: for debugging and for hosts with their own model."""
    import os

    from tools.base import ToolContext
    from tools.registry import get_tool

    try:
        params = json.loads(input_json)
    except ValueError as exc:
        raise fail(f"--input is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise fail("--input must be a JSON object")
    if not project.is_dir():
        raise fail(f"project directory not found: {project}")
    tool = get_tool(name)
    ctx = ToolContext(project_root=project, database_url=database_url or os.environ.get("DATABASE_URL"),
                      allow_edits=allow_edits, allow_bash=allow_bash)
    try:
        output, is_error = tool.run(params, ctx), False
    except InputError as exc:
        output, is_error = str(exc), True
    if as_json:
        print_json({"tool": name, "is_error": is_error, "output": output})
    elif is_error:
        typer.echo(f"error: {output}", err=True)
    else:
        typer.echo(output)
    if is_error:
        raise typer.Exit(2)


@app.command()
def demo(keep: bool = typer.Option(False, "--keep", help="Leave the demo database running and print its URL.")) -> None:
    """Start a private database with a demo app's data, find its slowest query and diagnose it."""
    from agent.demo import run_demo

    run_demo(keep=keep)


@app.command()
def mcp(
    project: Path = typer.Option(Path("."), "--project", help="The Ecto project the tools work on."),
    database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
) -> None:
    """Serve the analysis tools and `optimize` over MCP (stdio), for Claude Code and other hosts."""
    from agent.mcp_server import serve

    serve(project, database_url)


@app.command("report-schema")
def report_schema() -> None:
    """Print the JSON schema of the structured report that `run --json` carries as `report`."""
    from tools.report import schema

    print_json(schema())


def _register_subcommands() -> None:
    from agent import cli_beyond, cli_evidence, cli_health, cli_indexes, cli_migrations, commands
    from evals.cli import eval_app

    commands.register(app)  # run, chat
    cli_migrations.register(app)  # check-migrations
    cli_health.register(app)  # health
    cli_beyond.register(app)  # rewrites, partitioning, matviews, caching
    cli_evidence.register(app)  # logs, scan-code, top
    cli_indexes.register(app)  # advise-indexes
    app.add_typer(eval_app, name="eval")


_register_subcommands()


def main() -> None:
    import psycopg

    from tools.db.connect import describe_error

    try:
        app()
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except psycopg.Error as exc:  # the database said no: the user's data or server, not our bug
        typer.echo(f"error: the database answered: {describe_error(exc)}", err=True)
        sys.exit(2)

