"""Caching advice against a real PostgreSQL: a query run far more often than its tables change
is reported with the numbers behind it, and one whose table is busy is not; nothing is
presented as measured."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from tools.caching.tool import CachingAdvice, CachingOptions, caching_advice
from tools.ecto.elixir import parse as parse_elixir
from tools.errors import InputError

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def db(pg_server):
    name = "cache_" + uuid.uuid4().hex[:8]
    url = pg_server.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE categories (id bigserial PRIMARY KEY, name text NOT NULL, position int NOT NULL);
            INSERT INTO categories (name, position) SELECT 'category ' || g, g FROM generate_series(1, 40) g;
            CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL);
            INSERT INTO events (kind) SELECT 'click' FROM generate_series(1, 20000) g;""")
        # Both windows start at about the same time here (a new server), so reads per write is just
        # calls over writes: 2,000 reads of 40 rows written once, 600 counts of 20,000 inserts.
        with psycopg.RawCursor(conn) as cur:
            for i in range(2000):
                cur.execute('SELECT c0."id", c0."name" FROM "categories" AS c0 ORDER BY c0."position"')
                if i < 600:
                    cur.execute('SELECT count(*) FROM "events" AS e0 WHERE (e0."kind" = $1)', ["click"])
    yield url
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_rarely_changing_query_is_a_candidate_with_its_numbers(db):
    report = caching_advice(db, CachingOptions(min_calls=500))
    (c,) = report.candidates
    assert "categories" in c.query and c.calls == 2000 and not c.parameterised
    assert c.tables[0].table == "categories" and c.tables[0].writes == 40
    assert c.reads_per_write and c.reads_per_write > 20
    assert "upper bound" in c.verdict
    assert any("TTL" in x for x in c.caveats)
    parse_elixir(c.sketch)
    assert "Cachex.fetch" in c.sketch and "invalidate" in c.sketch and "Phoenix.PubSub.broadcast" in c.sketch
    text = report.text()
    assert "Sketch (not measured)" in text and "Window:" in text


def test_a_query_on_a_busy_table_is_not(db):
    report = caching_advice(db, CachingOptions(min_calls=500))
    assert any("events" in x and "reads per write" in x for x in report.not_cacheable)
    assert not any("events" in c.query for c in report.candidates)


def test_tool_cli_and_errors(db, tmp_path):
    import typer

    from agent.cli_beyond import register
    from tools.base import ToolContext

    out = json.loads(CachingAdvice().run({"min_calls": 500, "format": "json"}, ToolContext(tmp_path, database_url=db)))
    assert len(out["candidates"]) == 1
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["caching", "--database-url", db, "--min-calls", "500"])
    assert result.exit_code == 0 and "reads per write" in result.output
    with pytest.raises(InputError, match="could not connect"):
        caching_advice("postgresql://nobody@127.0.0.1:1/x")
