"""CLI commands beyond indexes: `rewrites`, `partitioning`, `matviews` and `caching`.

`register(app)` adds them to the main Typer app (agent/cli.py calls it). Each command is thin:
it parses options, calls the tool that does the work, and prints text or `--json`. Bad input
becomes one line on stderr and exit code 2, here rather than in the caller, so the commands
behave the same whichever app they are mounted on.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer

from tools.errors import InputError


@contextmanager
def _one_line_errors() -> Iterator[None]:
    import psycopg

    from tools.db.connect import describe_error

    try:
        yield
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except psycopg.Error as exc:
        typer.echo(f"error: the database answered: {describe_error(exc)}", err=True)
        raise typer.Exit(2) from None


def _print(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        typer.echo(text)


def _json_list(value: str | None, flag: str) -> list | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise InputError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(parsed, list):
        raise InputError(f"{flag} must be a JSON list")
    return parsed


def register(app: typer.Typer) -> None:
    @app.command()
    def rewrites(
        sql: str = typer.Argument(..., help="One SELECT, with $1..$n as Ecto logs it ('-' reads stdin). "
                                            "A logged line with its params list appended also works."),
        params: Optional[str] = typer.Option(None, "--params", help="JSON list, or Ecto's logged params list."),
        database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
        used_columns: Optional[str] = typer.Option(
            None, "--used-columns", help="Comma-separated columns the caller reads (for unused wide columns)."),
        group_values: Optional[str] = typer.Option(
            None, "--group-values", help="JSON list of the group ids an N+1 loops over (latest-per-group)."),
        statement_timeout: int = typer.Option(30_000, "--statement-timeout", help="Milliseconds.", min=1),
        as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    ) -> None:
        """Find rewrites of a query (NOT IN, correlated subqueries, deep OFFSET, ...) and prove each one:
        both versions run in a rolled-back read-only transaction, same rows, and faster."""
        from tools.rewrites.tool import RewriteOptions, suggest_rewrites

        with _one_line_errors():
            if sql == "-":
                sql = sys.stdin.read()
            options = RewriteOptions(
                statement_timeout_ms=statement_timeout,
                used_columns=[c.strip() for c in used_columns.split(",") if c.strip()] if used_columns else None,
                group_values=_json_list(group_values, "--group-values"))
            report = suggest_rewrites(sql, params, database_url, options)
            _print(report.as_json(), as_json, report.text())

    @app.command()
    def partitioning(
        database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
        table: Optional[str] = typer.Option(None, "--table", help="Only this table."),
        min_rows: int = typer.Option(1_000_000, "--min-rows", help="Tables smaller than this are not proposed.",
                                     min=0),
        sql: Optional[str] = typer.Option(None, "--sql", help="Check one query on a partitioned table for "
                                                              "partitions it could have pruned."),
        params: Optional[str] = typer.Option(None, "--params", help="The --sql query's params."),
        as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    ) -> None:
        """Large append-mostly tables with a time column the queries filter on: a partitioning plan, as Ecto
        migrations that attach the existing data without a long lock, and the partition upkeep to schedule."""
        from tools.partitioning.tool import PartitioningOptions, partitioning_advice

        with _one_line_errors():
            report = partitioning_advice(database_url, PartitioningOptions(table=table, min_rows=min_rows,
                                                                           sql=sql, params=params))
            _print(report.model_dump(), as_json, report.text())

    @app.command()
    def matviews(
        database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
        sql: Optional[str] = typer.Option(None, "--sql", help="Judge this aggregation instead of the top ones "
                                                              "in pg_stat_statements."),
        min_total_ms: float = typer.Option(1_000.0, "--min-total-ms", help="Ignore statements cheaper than this "
                                                                          "in total.", min=0),
        measure: bool = typer.Option(False, "--measure", help="Build the view inside a transaction that is "
                                                              "rolled back, to measure before and after (it runs "
                                                              "the aggregation and takes a lock on nothing but "
                                                              "the new view)."),
        as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    ) -> None:
        """Repeated expensive aggregations with few distinct results: a materialized view with a unique index
        for REFRESH CONCURRENTLY, its Ecto schema, and the refresh schedule with the staleness it implies."""
        from tools.matviews.tool import MatviewOptions, materialized_view_advice

        with _one_line_errors():
            report = materialized_view_advice(database_url, MatviewOptions(sql=sql, min_total_ms=min_total_ms,
                                                                           measure=measure))
            _print(report.model_dump(), as_json, report.text())

    @app.command()
    def caching(
        database_url: Optional[str] = typer.Option(None, "--database-url", help="Defaults to $DATABASE_URL."),
        min_calls: int = typer.Option(1_000, "--min-calls", help="Ignore statements run fewer times.", min=1),
        as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    ) -> None:
        """Queries whose results change rarely relative to how often they run, with the numbers
        (pg_stat_statements calls, writes to their tables) and a cache-and-invalidate sketch in Elixir."""
        from tools.caching.tool import CachingOptions, caching_advice

        with _one_line_errors():
            report = caching_advice(database_url, CachingOptions(min_calls=min_calls))
            _print(report.model_dump(), as_json, report.text())
