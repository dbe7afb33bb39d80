"""`ecto-optimizer advise-indexes`: the index advisor on the command line.

`--params` belongs to the `--sql` just before it, so queries with and without params can be
mixed. Click hands an option's values over as one list per option, losing that interleaving, so
the command reads the pairing from its raw arguments before click parses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperCommand

from tools.errors import InputError

_PAIRS = "ecto_optimizer_sql_params"


class _PairingCommand(TyperCommand):
    def parse_args(self, ctx, args):
        ctx.meta[_PAIRS] = _pair(list(args))
        return super().parse_args(ctx, args)


def _pair(args: list[str]) -> list[list]:
    """[[sql, params-or-None], ...] in command-line order; a misplaced --params is an error later."""
    pairs: list[list] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        for flag in ("--sql", "--params"):
            if arg == flag or arg.startswith(flag + "="):
                if arg == flag:
                    if i + 1 >= len(args):
                        return pairs  # click reports the missing value
                    value = args[i + 1]
                    i += 1
                else:
                    value = arg[len(flag) + 1:]
                if flag == "--sql":
                    pairs.append([value, None])
                elif not pairs:
                    pairs.append([None, value])  # --params before any --sql
                elif pairs[-1][1] is not None:
                    pairs.append([None, value])  # a second --params for the same --sql
                else:
                    pairs[-1][1] = value
                break
        i += 1
    return pairs


def register(app: typer.Typer) -> None:
    @app.command("advise-indexes", cls=_PairingCommand)
    def advise_indexes(
        ctx: typer.Context,
        sql: Optional[list[str]] = typer.Option(
            None, "--sql", metavar="SQL",
            help="A query, with $1..$n as Ecto logs it ('-' reads stdin). Repeat for several."),
        params: Optional[list[str]] = typer.Option(
            None, "--params", metavar="LIST",
            help="Params of the --sql just before: a JSON list or Ecto's logged list."),
        from_pgss: bool = typer.Option(False, "--from-pg-stat-statements",
                                       help="Add the database's heaviest statements, weighted by calls."),
        limit: int = typer.Option(50, "--limit", min=1, help="How many pg_stat_statements entries to read."),
        budget_mb: Optional[float] = typer.Option(None, "--budget-mb", metavar="N",
                                                  help="Storage in MB the new indexes may take."),
        database_url: Optional[str] = typer.Option(None, "--database-url", metavar="URL",
                                                   help="Defaults to $DATABASE_URL."),
        write_migrations: Optional[Path] = typer.Option(None, "--write-migrations", metavar="DIR",
                                                        help="Write each recommendation as an Ecto migration."),
        project: Optional[Path] = typer.Option(None, "--project",
                                               help="The Ecto project: migrations get its module prefix."),
        scratch: bool = typer.Option(False, "--scratch",
                                     help="Disposable database without HypoPG: build real indexes in a "
                                          "transaction that is rolled back (blocks writes meanwhile)."),
        statement_timeout: int = typer.Option(30_000, "--statement-timeout", help="Milliseconds.", min=1),
        lock_timeout: int = typer.Option(1_000, "--lock-timeout", help="Milliseconds.", min=1),
        time_limit: float = typer.Option(25.0, "--time-limit", help="Seconds for the search.", min=1.0),
        as_json: bool = typer.Option(False, "--json", help="Print {recommendations, unvalidated, notes}."),
    ) -> None:
        """Recommend indexes for queries or the pg_stat_statements workload, validated with HypoPG."""
        import sys

        from agent.cli import fail, print_json, progress
        from tools.indexes.advisor import AdviseOptions, QueryInput, advise
        from tools.indexes.migrations import write_migrations as write

        pairs = ctx.meta.get(_PAIRS) or [[s, None] for s in (sql or [])]
        inputs = []
        for n, (text, plist) in enumerate(pairs, 1):
            if text is None:
                raise fail("--params must follow the --sql it belongs to (one --params per --sql)")
            if text == "-":
                text = sys.stdin.read()
            inputs.append(QueryInput(text, plist))
        if project is not None and not project.is_dir():
            raise fail(f"project directory not found: {project}")
        options = AdviseOptions(budget_mb=budget_mb, from_pg_stat_statements=from_pgss, pgss_limit=limit,
                                scratch=scratch, project=project, statement_timeout_ms=statement_timeout,
                                lock_timeout_ms=lock_timeout, time_limit_s=time_limit)
        try:
            with progress("Advising indexes…"):
                advice = advise(inputs, database_url, options)
        except InputError as exc:
            raise fail(str(exc)) from None
        if write_migrations is not None:
            if advice.recommendations:
                try:
                    paths = write(advice.migration_files(), write_migrations)
                except InputError as exc:
                    raise fail(str(exc)) from None
                advice.notes.append("wrote " + ", ".join(str(p) for p in paths))
            elif advice.unvalidated:
                advice.notes.append("no migration written: unvalidated candidates are not recommendations")
        if as_json:
            print_json(advice.as_json())
        else:
            typer.echo(advice.text())
