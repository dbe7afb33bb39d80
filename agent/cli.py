"""The `ecto-optimizer` command line. Each command lives with the code it drives; this module
only assembles them and turns InputError into one line on stderr with exit code 2."""

from __future__ import annotations

import sys

import typer

from tools.errors import InputError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="An Ecto/PostgreSQL performance engineer: plans, indexes, N+1s, safe migrations.")


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print one clear line on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def main() -> None:
    try:
        app()
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
