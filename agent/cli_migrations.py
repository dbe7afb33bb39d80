"""`ecto-optimizer check-migrations`: find the migrations that will lock or rewrite production
tables, and (with --fix) write the safe version where the rewrite is mechanical."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from tools.errors import InputError


class Format(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Severity(str, Enum):
    info = "info"
    warning = "warning"
    error = "error"


def register(app: typer.Typer) -> None:
    @app.command("check-migrations")
    def check_migrations(
        paths: Optional[List[Path]] = typer.Argument(
            None, help="Migration files or directories (default: priv/repo/migrations)."),
        as_json: bool = typer.Option(False, "--json", help='Print {"files", "findings": [...]} as JSON.'),
        fmt: Format = typer.Option(Format.text, "--format", help="text, json, or sarif (SARIF 2.1.0 for "
                                                                  "GitHub code scanning)."),
        since: Optional[str] = typer.Option(None, "--since", metavar="VERSION",
                                            help="Only check migrations newer than this version "
                                                 "(the last one deployed)."),
        fix: bool = typer.Option(False, "--fix", help="Write the mechanical safe rewrites: concurrent "
                                                      "indexes split out with their attributes, "
                                                      "validate: false plus a VALIDATE migration."),
        trace_locks: bool = typer.Option(False, "--trace-locks",
                                         help="Also run each checked migration's SQL on --database-url "
                                              "in a transaction that is rolled back, and report the "
                                              "locks, rewrites and scans observed. SCRATCH DATABASES "
                                              "ONLY: the statements take real locks while they run."),
        database_url: Optional[str] = typer.Option(None, "--database-url",
                                                   help="The scratch database for --trace-locks "
                                                        "(never DATABASE_URL implicitly)."),
        config: Optional[Path] = typer.Option(None, "--config", help="Config file (default: "
                                              ".ecto-optimizer.toml [migrations] or "
                                              ".ecto-optimizer-migrations.json at the project root)."),
        pg_version: Optional[int] = typer.Option(None, "--pg-version", min=9, max=40,
                                                 help="PostgreSQL major version in production (default 14)."),
        min_severity: Severity = typer.Option(Severity.info, "--min-severity",
                                              help="Hide findings below this in text output."),
    ) -> None:
        """Check Ecto migrations for locks, rewrites and unsafe steps; exit 1 on an error finding."""
        from agent.cli import fail, print_json
        from tools.migrations.tool import CheckReport, trace_checked

        try:
            if trace_locks and not database_url:
                raise InputError("--trace-locks needs --database-url of a scratch database")
            if database_url and not trace_locks:
                raise InputError("--database-url is only used with --trace-locks")
            report = _lint(paths, since, config, pg_version)
            if fix:
                from tools.migrations.fix import plan_fixes

                plan = plan_fixes(report.result)
                plan.write()
                for path in plan.changed:
                    verb = "created" if path in plan.created else "rewrote"
                    typer.echo(f"{verb} {path}", err=True)
                for note in plan.notes:
                    typer.echo(f"not fixed: {note}", err=True)
                if plan.changed:
                    report = _lint(paths, since, config, pg_version)
            if trace_locks:
                from tools.db.connect import target

                typer.echo(f"tracing on {target(database_url)}: each migration runs in a transaction "
                           "that is rolled back (use a scratch database)", err=True)
                report = CheckReport(report.result, trace_checked(report.result, database_url))
        except InputError as exc:
            raise fail(str(exc)) from None
        if as_json or fmt == Format.json:
            print_json(report.as_json())
        elif fmt == Format.sarif:
            from tools.migrations.sarif import to_sarif

            typer.echo(json.dumps(to_sarif(report.result), indent=2))
        else:
            typer.echo(report.text(min_severity=min_severity.value))
        if report.result.has_errors:
            raise typer.Exit(1)


def _lint(paths, since, config, pg_version):
    from tools.migrations.lint import lint_paths
    from tools.migrations.tool import CheckReport

    return CheckReport(lint_paths(paths or None, since=since, config_path=config, pg_version=pg_version))
