"""Shared fixtures. The database fixture starts a real PostgreSQL cluster that belongs to this
test run and removes it afterwards; in CI a missing server is a failure, elsewhere a skip."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "plans"


@pytest.fixture(scope="session")
def pg_server():
    from tools.db.server import LocalPostgres
    from tools.errors import InputError

    try:
        server = LocalPostgres().start()
    except (InputError, OSError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the test database could not be started: {exc}")
        pytest.skip(f"no PostgreSQL server for tests: {exc}")
    yield server
    server.stop()


@pytest.fixture
def fresh_db(pg_server):
    """A new empty database (pg_stat_statements and HypoPG installed) for one test."""
    name = "t_" + uuid.uuid4().hex[:10]
    url = pg_server.create_database(name)
    yield url
    import psycopg

    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"plan corpus missing at {CORPUS}")
        pytest.skip("plan corpus (../shared/corpus/plans) not present")
    return CORPUS
