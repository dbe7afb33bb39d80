"""`ecto-optimizer health`: the database's health checks, with each finding's evidence and fix.

`register(app)` adds the command to the main Typer app. Bad input (an unreachable database, a
malformed URL, an unknown check) is one line on stderr and exit code 2, here as in main(), so the
command behaves the same when it is called through a test app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from tools.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("health")(health)


def health(
    database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL. Read-only."),
    project: Optional[Path] = typer.Option(None, "--project",
                                           help="The Ecto project, for its repo's pool_size and parameters."),
    as_json: bool = typer.Option(False, "--json", help='Print {"findings": [...], "unread": [...], ...}.'),
    cores: Optional[int] = typer.Option(None, "--cores", help="The database server's CPU cores (else read from "
                                                              "this host when the database runs here)."),
    memory: Optional[str] = typer.Option(None, "--memory", help="The database server's RAM, e.g. 16GB."),
    storage: Optional[str] = typer.Option(None, "--storage", help="ssd, hdd, nvme or san."),
    workload: str = typer.Option("web", "--workload", help="PGTune's type: web, oltp, dw, mixed or desktop."),
    app_nodes: int = typer.Option(1, "--app-nodes", min=1, help="App instances, each with its own pool."),
    check: Optional[List[str]] = typer.Option(None, "--check", help="Run only this check (repeatable)."),
    skip: Optional[List[str]] = typer.Option(None, "--skip", help="Skip this check (repeatable)."),
    statement_timeout: int = typer.Option(10_000, "--statement-timeout", min=1, help="Milliseconds per query."),
    list_checks: bool = typer.Option(False, "--list-checks", help="List the checks, their thresholds and sources."),
) -> None:
    """Check the database's health: unused, duplicate and missing indexes, bloat, vacuum, locks,
    settings (against PGTune) and the Ecto pool. Read-only; works with a pg_monitor role."""
    import psycopg

    from tools.db.connect import describe_error
    from tools.health.config import machine_from_flags
    from tools.health.runner import run_health

    if list_checks:
        from tools.health.checks import catalogue

        docs = catalogue()
        if as_json:
            typer.echo(json.dumps(docs, indent=2))
        else:
            for doc in docs:
                typer.echo(f"{doc['id']}: {doc['what']}\n  threshold: {doc['threshold']}\n  fix: {doc['fix']}")
        return
    try:
        machine = machine_from_flags(cores=cores, memory=memory, storage=storage)
        report = run_health(database_url, project=project, machine=machine, workload=workload, app_nodes=app_nodes,
                            only=check or None, skip=skip or None, statement_timeout_ms=statement_timeout)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except psycopg.Error as exc:
        typer.echo(f"error: the database answered: {describe_error(exc, database_url)}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2, default=str))
    else:
        typer.echo(report.text())
    if sys.stdout.isatty() and report.unread:
        typer.echo(f"({len(report.unread)} thing(s) could not be read; see above)", err=True)
