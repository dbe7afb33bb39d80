"""Partitioning advice against a real PostgreSQL: a large append-mostly time series is proposed
for range partitioning, and the migrations proposed really do it when applied the way Ecto runs
them - the existing table attached as a partition without a scan, rows kept, new rows routed,
the partition function working. Tables that do not qualify say why. For tables already
partitioned, a query that reads every partition gets the reason."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tools.ecto.elixir import parse as parse_elixir
from tools.ecto.migration import parse_migration
from tools.errors import InputError
from tools.partitioning.advisor import interval_for, partition_name, step, truncate
from tools.partitioning.tool import PartitioningAdvice, PartitioningOptions, partitioning_advice

pytestmark = pytest.mark.db

DATA = """
CREATE TABLE page_views (id bigserial PRIMARY KEY, path varchar(255) NOT NULL, visitor_id bigint NOT NULL,
                         inserted_at timestamp(0) NOT NULL);
CREATE INDEX page_views_inserted_at_index ON page_views (inserted_at);
CREATE INDEX page_views_path_inserted_at_index ON page_views (path, inserted_at);
INSERT INTO page_views (path, visitor_id, inserted_at)
SELECT '/p/' || (g % 200), g % 9000, timestamp '2024-01-01' + g * interval '40 seconds'
FROM generate_series(1, 150000) g;
DELETE FROM page_views WHERE inserted_at < '2024-01-10';
-- Rows updated all the time: not a time series, whatever its columns.
CREATE TABLE sessions (id bigserial PRIMARY KEY, token text NOT NULL, last_seen_at timestamp(0) NOT NULL);
INSERT INTO sessions (token, last_seen_at) SELECT md5(g::text), timestamp '2024-01-01' + g * interval '1 minute'
FROM generate_series(1, 120000) g;
UPDATE sessions SET last_seen_at = last_seen_at + interval '1 day' WHERE id % 2 = 0;
-- Looked up by an evenly spread key, never by time.
CREATE TABLE api_keys_usage (id bigserial PRIMARY KEY, account_id bigint NOT NULL, calls int NOT NULL);
INSERT INTO api_keys_usage (account_id, calls) SELECT 1 + (g * 7919) % 30000, g % 100 FROM generate_series(1, 120000) g;
-- Already partitioned by month.
CREATE TABLE measurements (id bigserial, device_id bigint NOT NULL, value float8 NOT NULL,
                           recorded_at timestamp NOT NULL, PRIMARY KEY (id, recorded_at)) PARTITION BY RANGE (recorded_at);
CREATE TABLE measurements_p2024_01 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE measurements_p2024_02 PARTITION OF measurements FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE measurements_p2024_03 PARTITION OF measurements FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
INSERT INTO measurements (device_id, value, recorded_at)
SELECT g % 50, g * 0.5, timestamp '2024-01-01' + g * interval '4 minutes' FROM generate_series(1, 30000) g;
ANALYZE;
"""
WORKLOAD = [
    ('SELECT p0."path", count(p0."id") FROM "page_views" AS p0 WHERE (p0."inserted_at" >= $1) GROUP BY p0."path"',
     ["2024-02-20 00:00:00"], 8),
    ('SELECT count(*) FROM "page_views" AS p0 WHERE ((p0."inserted_at" >= $1) AND (p0."inserted_at" < $2))',
     ["2024-02-01 00:00:00", "2024-02-08 00:00:00"], 8),
    ('SELECT s0."id" FROM "sessions" AS s0 WHERE (s0."last_seen_at" >= $1)', ["2024-03-01 00:00:00"], 5),
    ('SELECT a0."calls" FROM "api_keys_usage" AS a0 WHERE (a0."account_id" = $1)', [42], 20),
    ('SELECT m0."value" FROM "measurements" AS m0 WHERE (m0."device_id" = $1)', [7], 3),
]


@pytest.fixture(scope="module")
def db(pg_server):
    name = "pt_" + uuid.uuid4().hex[:8]
    url = pg_server.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DATA)
        for sql, params, calls in WORKLOAD:
            with psycopg.RawCursor(conn) as cur:
                for _ in range(calls):
                    cur.execute(sql, params)
    yield url, name
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}_copy" WITH (FORCE)')


@pytest.fixture(scope="module")
def report(db):
    return partitioning_advice(db[0], PartitioningOptions(min_rows=100_000, app="Beacon"))


def page_views(report):
    return next(p for p in report.proposals if p.table == "page_views")


def test_a_time_series_is_proposed_for_range_partitioning(report):
    assert {p.table: p.strategy for p in report.proposals} == {"page_views": "range", "api_keys_usage": "hash"}
    p = page_views(report)
    assert (p.table, p.strategy, p.key, p.interval) == ("page_views", "range", "inserted_at", "month")
    assert p.correlation and p.correlation > 0.99
    assert {u.kind for u in p.queries} == {"range"} and sum(u.calls for u in p.queries) == 16
    assert any("Scan on page_views" in plan for plan in p.plans)
    assert p.blockers == []
    assert any("append-mostly" in w and "deletes" in w for w in p.why)
    text = report.text()
    assert "range partitioning on inserted_at" in text and "Partition upkeep" in text


def test_tables_that_do_not_qualify_say_why(report):
    reasons = {s.table: s.reason for s in report.skipped}
    assert "not append-mostly" in reasons["sessions"]
    assert set(reasons) >= {"sessions"}


def test_the_migrations_partition_the_live_table(db, report, pg_server, tmp_path):
    """Applied as Ecto runs them, on a copy: the old table becomes a partition (same relation,
    attached after its CHECK proved the bound, no index built under the lock), rows kept, new
    rows routed, and the function creates the coming partitions."""
    from evals import database
    from evals.checks_beyond import apply_with_messages

    url, name = db
    p = page_views(report)
    for m in p.migrations:
        parse_elixir(m.content)
        parse_migration(m.content)
        (tmp_path / Path(m.path).name).write_text(m.content)
    copy = database.create_database(pg_server.url(), f"{name}_copy", template=name)
    with psycopg.connect(copy) as conn:
        oid, before = conn.execute("SELECT 'page_views'::regclass::oid, (SELECT count(*) FROM page_views)").fetchone()
    ran = apply_with_messages(copy, sorted(tmp_path.glob("*.exs")))
    attach = [messages for stmt, messages in ran if "ATTACH PARTITION" in stmt]
    assert len(attach) == 1 and any("is implied by existing constraints" in m for m in attach[0])
    assert not any(m.startswith("building index") for m in attach[0])
    with psycopg.connect(copy) as conn:
        assert conn.execute("SELECT pg_get_partkeydef('page_views'::regclass)").fetchone()[0] == "RANGE (inserted_at)"
        parts = dict(conn.execute("SELECT c.relname, c.oid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                  "WHERE i.inhparent = 'page_views'::regclass").fetchall())
        assert parts["page_views_legacy"] == oid and len(parts) == 4
        assert conn.execute("SELECT count(*) FROM page_views").fetchone()[0] == before
        conn.execute("INSERT INTO page_views (path, visitor_id, inserted_at) VALUES ('/new', 1, now())")
        cutoff = p.cutoff[:10]
        conn.execute("INSERT INTO page_views (path, visitor_id, inserted_at) VALUES ('/later', 1, %s)", (cutoff,))
        conn.execute("SELECT page_views_create_partitions(3)")
        conn.commit()
        # The primary key now includes the partition key; ids keep coming from the same sequence.
        assert conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                            "'page_views'::regclass AND contype = 'p'").fetchone()[0] == "PRIMARY KEY (id, inserted_at)"
        owner = conn.execute("SELECT pg_get_serial_sequence('page_views', 'id')").fetchone()[0]
        assert owner == "public.page_views_id_seq"


def test_interval_and_names():
    import datetime as dt

    first, last = dt.datetime(2024, 1, 1), dt.datetime(2024, 3, 1)
    assert interval_for(180_000, first, last)[0] == "month"
    assert interval_for(200_000_000, first, last)[0] == "day"
    assert interval_for(20_000, first, last)[0] == "year"
    assert step(truncate(dt.datetime(2024, 11, 20), "month"), "month", 2) == dt.datetime(2025, 1, 1)
    assert partition_name("page_views", dt.datetime(2025, 1, 1), "month") == "page_views_p2025_01"


def test_hash_partitioning_for_an_evenly_spread_key(db):
    report = partitioning_advice(db[0], PartitioningOptions(table="api_keys_usage", min_rows=100_000))
    (p,) = report.proposals
    assert (p.strategy, p.key) == ("hash", "account_id")
    assert "MODULUS 16, REMAINDER 15" in p.migrations[0].content
    assert any("cannot be attached as one partition" in n for n in p.notes)


def test_pruning_on_a_partitioned_table(db):
    url = db[0]
    pruned = partitioning_advice(url, PartitioningOptions(
        sql='SELECT m0."value" FROM "measurements" AS m0 WHERE (m0."recorded_at" >= $1) AND (m0."recorded_at" < $2)',
        params='["2024-02-01 00:00:00", "2024-02-10 00:00:00"]')).pruning
    assert [(i.verdict, i.scanned, i.partitions) for i in pruned] == [("pruned", 1, 3)]
    (wrapped,) = partitioning_advice(url, PartitioningOptions(
        sql='SELECT m0."value" FROM "measurements" AS m0 WHERE (date(m0."recorded_at") = $1)',
        params='["2024-02-03"]')).pruning
    assert wrapped.verdict == "not pruned" and wrapped.scanned == 3
    assert "hides recorded_at inside a function or cast" in wrapped.why and "recorded_at >= $1" in wrapped.fix
    (unfiltered,) = partitioning_advice(url, PartitioningOptions(
        sql='SELECT m0."value" FROM "measurements" AS m0 WHERE (m0."device_id" = $1)', params="[7]")).pruning
    assert "nothing in the query filters on the partition key" in unfiltered.why


def test_the_workload_is_checked_for_pruning(report):
    assert any(i.table == "measurements" and i.verdict == "not pruned" for i in report.pruning)


def test_bad_input_is_one_clear_line(db):
    url = db[0]
    for options, message in [
        (PartitioningOptions(table="nope"), "no table named 'nope'"),
        (PartitioningOptions(sql="DROP TABLE measurements"), "refusing to explain DROP"),
        (PartitioningOptions(sql="DELETE FROM measurements"), "explains SELECT queries only"),
        (PartitioningOptions(sql="SELECT * FROM measurements WHERE device_id = $1", params="[1,"),
         "cannot read params"),
    ]:
        with pytest.raises(InputError) as exc:
            partitioning_advice(url, options)
        assert message in str(exc.value) and "\n" not in str(exc.value)


def test_agent_tool_and_cli(db, tmp_path):
    import typer

    from agent.cli_beyond import register
    from tools.base import ToolContext

    out = json.loads(PartitioningAdvice().run({"min_rows": 100_000, "format": "json"},
                                              ToolContext(tmp_path, database_url=db[0])))
    assert {p["table"] for p in out["proposals"]} == {"page_views", "api_keys_usage"}
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["partitioning", "--database-url", db[0], "--min-rows", "100000", "--json"])
    assert result.exit_code == 0, result.output
    assert "inserted_at" in {p["key"] for p in json.loads(result.output)["proposals"]}
    result = CliRunner().invoke(app, ["partitioning", "--database-url", "postgresql://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 2 and result.output.startswith("error: could not connect")
