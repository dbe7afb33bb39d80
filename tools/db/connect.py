"""Connecting to a user's database, and saying in one line why it did not work.

Every message that leaves this module has the URL's password masked: psycopg repeats parts of
the connection string in some errors, and a user pasting our output into an issue must not
paste their password with it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

import psycopg

from tools.errors import InputError
from tools.redact import redact_text, redact_url, url_password

CONNECT_TIMEOUT_S = 10


def resolve_url(url: str | None) -> str:
    """The URL from the flag, else $DATABASE_URL; validated enough to give a clear message."""
    url = url or os.environ.get("DATABASE_URL")
    if not url:
        raise InputError("no database given: pass --database-url or set DATABASE_URL")
    url = url.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise InputError(f"invalid database URL {redact_url(url)}: {exc}") from None
        if parts.scheme not in ("postgres", "postgresql"):
            raise InputError(f"invalid database URL {redact_url(url)}: the scheme must be postgresql://")
    elif "=" not in url:
        raise InputError(f"invalid database URL {url!r}: expected postgresql://user@host:port/dbname")
    return url


def describe_error(exc: Exception, url: str | None = None) -> str:
    """One line for a psycopg error, with secrets masked."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # libpq prefixes every attempt with `connection to server at "..." failed:`; the reason is last.
    first = lines[0] if lines else type(exc).__name__
    if isinstance(exc, psycopg.OperationalError) and "failed:" in first:
        first = first.rsplit("failed:", 1)[1].strip().removeprefix("FATAL:").strip() or first
    if isinstance(exc, psycopg.OperationalError) and "Is the server running" in text:
        first = "connection refused (is the server running and accepting TCP connections?)"
    message = first.rstrip(".")
    diag = getattr(exc, "diag", None)
    if diag is not None and getattr(diag, "message_hint", None):
        message += f" (hint: {diag.message_hint})"
    return redact_text(message, [url_password(url)])


def bind_like_ecto(conn: psycopg.Connection) -> psycopg.Connection:
    """Send Python ints as bigint, as Postgrex does for Ecto's integer ids.

    psycopg picks the smallest integer type that fits, so `42` arrives as smallint and plans
    show `'42'::smallint` where the app's plan has a bigint: harmless for btree, but not the
    query the app runs, and it reads oddly in a diagnosis.
    """
    from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper

    conn.adapters.register_dumper(int, Int8Dumper)
    conn.adapters.register_dumper(int, Int8BinaryDumper)
    return conn


def target(url: str) -> str:
    """host:port/dbname for messages, never with credentials."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
    except ValueError:
        return "the database"


@contextmanager
def connect(url: str | None, *, application_name: str = "ecto-optimizer") -> Iterator[psycopg.Connection]:
    """A connection with autocommit off, so the caller decides every transaction's fate."""
    url = resolve_url(url)
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name=application_name,
                               autocommit=False)
    except psycopg.ProgrammingError as exc:  # malformed conninfo
        raise InputError(f"invalid database URL {redact_url(url)}: {describe_error(exc, url)}") from None
    except psycopg.Error as exc:
        raise InputError(f"could not connect to {target(url)}: {describe_error(exc, url)}") from None
    try:
        yield bind_like_ecto(conn)
    finally:
        conn.close()


def server_version(conn: psycopg.Connection) -> str:
    v = conn.info.server_version  # e.g. 150018
    major, minor = divmod(v, 10000)
    return f"{major}.{minor}" if major >= 10 else f"{v // 10000}.{(v // 100) % 100}.{v % 100}"
