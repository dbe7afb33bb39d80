"""`ecto-optimizer logs`, `scan-code` and `top`: the evidence an Ecto team already has, from logs,
from the code, and from pg_stat_statements. Bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from tools.errors import InputError


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        files: List[Path] = typer.Argument(..., help="Ecto/Phoenix dev logs or PostgreSQL logs (stderr, csvlog, "
                                                     "jsonlog; gzipped too). The format is detected per file."),
        as_json: bool = typer.Option(False, "--json", help="Print requests, queries, fingerprints and findings as JSON."),
        slow_ms: float = typer.Option(100.0, "--slow-ms", min=0.0, help="A query is slow when its p95 or mean reaches this."),
        min_count: int = typer.Option(5, "--n-plus-one-count", min=2, help="N+1: repeats within one request…"),
        min_ms: float = typer.Option(50.0, "--n-plus-one-ms", min=0.0, help="…or total milliseconds, whichever comes first."),
        fmt: Optional[str] = typer.Option(None, "--format", help="Force a format: ecto, stderr, csvlog or jsonlog."),
        top: int = typer.Option(10, "--top", min=1, help="Queries listed in the text report."),
        code: Optional[Path] = typer.Option(None, "--code", help="The project, to point each N+1 at its loop "
                                                                  "(scanned only when the logs have an N+1)."),
        jobs: int = typer.Option(1, "-j", "--jobs", min=1, max=64,
                                 help="Processes per log of 16 MB or more (ecto, stderr, jsonlog), as pgBadger's -j."),
    ) -> None:
        """Find N+1s, slow queries and failed queries in logs, with the Ecto fix for each."""
        from tools.logs.summary import render, summarize

        with _one_line_errors():
            if code is not None and not code.is_dir():
                raise InputError(f"--code: no such directory: {code}")
            summary = summarize(files, slow_ms=slow_ms, min_count=min_count, min_ms=min_ms, fmt=fmt, code=code,
                                jobs=jobs)
        if as_json:
            _print_json(summary.cli_json())
        else:
            typer.echo(render(summary, top=top))

    @app.command("scan-code")
    def scan_code(
        directory: Path = typer.Argument(Path("."), help="The Elixir project (or one file) to scan."),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    ) -> None:
        """Find Repo reads inside loops (N+1s written in the code), with the rewrite for each."""
        from tools.logs.scan import render_scan, scan

        with _one_line_errors():
            result = scan(directory)
        if as_json:
            _print_json(result.as_json())
        else:
            typer.echo(render_scan(result))

    @app.command("top")
    def top_(
        database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL. Read-only."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        order_by: str = typer.Option("total", "--order-by", help="total, mean, calls or io."),
        limit: int = typer.Option(10, "--limit", min=1, max=1000, help="How many queries."),
        snapshots: Optional[Path] = typer.Option(None, "--snapshots",
                                                 help="SQLite file for before/after snapshots "
                                                      "(default .ecto-optimizer/stats.sqlite3)."),
        no_snapshot: bool = typer.Option(False, "--no-snapshot", help="Do not keep this read for a later comparison."),
    ) -> None:
        """The queries that cost the database most, from pg_stat_statements, with what changed since the last run."""
        from tools.logs.stats import render_top, top_queries

        with _one_line_errors():
            report = top_queries(database_url, order_by=order_by, limit=limit, snapshots=snapshots,
                                 keep_snapshot=not no_snapshot)
        if as_json:
            _print_json(report.model_dump())
        else:
            typer.echo(render_top(report))
