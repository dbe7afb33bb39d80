"""describe_table against the real test server: columns, indexes with usage and size, foreign
keys both ways, sizes, and pg_stats per column; its limits for a pg_monitor role."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from tools.base import ToolContext
from tools.errors import InputError
from tools.health.describe import describe_table
from tools.health.tool import DescribeTable

SETUP = """
CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL);
INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 1000) g;
CREATE TABLE tickets (
  id bigserial PRIMARY KEY,
  status text NOT NULL DEFAULT 'open',
  customer_id bigint NOT NULL REFERENCES customers ON DELETE CASCADE,
  closed_at timestamp,
  subject text
);
INSERT INTO tickets (status, customer_id, closed_at, subject)
SELECT CASE WHEN g % 10 < 7 THEN 'closed' WHEN g % 10 < 9 THEN 'open' ELSE 'pending' END,
       1 + g % 1000, CASE WHEN g % 10 < 7 THEN now() END, 'Subject ' || g
FROM generate_series(1, 20000) g;
CREATE INDEX tickets_status_index ON tickets (status);
CREATE TABLE comments (id bigserial PRIMARY KEY, ticket_id bigint REFERENCES tickets);
ANALYZE;
SELECT count(*) FROM tickets WHERE status = 'pending';
"""


@pytest.fixture
def db(fresh_db):
    import pglast

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for stmt in pglast.split(SETUP):
            conn.execute(stmt)
            conn.execute("SELECT pg_stat_force_next_flush()")  # counts land before the next ANALYZE
        conn.execute("SELECT id FROM tickets WHERE status = 'pending' LIMIT 1")
        conn.execute("SELECT pg_stat_force_next_flush()")
    return fresh_db


def test_describe_table_reads_the_distribution(db):
    d = describe_table(db, "tickets")
    assert (d.table, d.schema, d.kind) == ("tickets", "public", "table")
    cols = {c["name"]: c for c in d.columns}
    assert list(cols) == ["id", "status", "customer_id", "closed_at", "subject"]
    assert cols["status"]["default"] == "'open'::text" and not cols["status"]["nullable"]
    status = cols["status"]["stats"]
    assert status["n_distinct"] == 3
    mcv = dict(status["most_common"])
    assert mcv["closed"] == pytest.approx(0.7, abs=0.05) and set(mcv) == {"closed", "open", "pending"}
    assert cols["closed_at"]["stats"]["null_frac"] == pytest.approx(0.3, abs=0.05)
    assert cols["id"]["stats"]["n_distinct"] == -1 and cols["id"]["stats"]["correlation"] == pytest.approx(1.0)
    assert cols["customer_id"]["stats"]["n_distinct"] == pytest.approx(1000, rel=0.1)
    idx = {i["name"]: i for i in d.indexes}
    assert idx["tickets_pkey"]["constraint"] == "PRIMARY KEY" and idx["tickets_status_index"]["scans"] >= 1
    assert idx["tickets_status_index"]["bytes"] > 0
    (fk,) = d.foreign_keys
    assert fk["columns"] == "customer_id" and fk["on_delete"] == "CASCADE" and not fk["indexed"]
    (ref,) = d.referenced_by
    assert ref["table"] == "comments" and not ref["indexed"]
    assert d.stats["rows"] == 20000 and d.stats["table_bytes"] > 0
    assert d.notes == []
    text = d.text()
    assert "Table tickets: about 20,000 rows" in text
    assert "distinct 3, nulls 0.0%" in text and "most common: closed 70" in text
    assert "distinct unique" in text
    assert "tickets_status_index: btree (status)" in text
    assert "(no index on these columns)" in text
    assert "comments.ticket_id" in text
    json.dumps(d.as_json(), default=str)


def test_unknown_table_suggests_names(db):
    with pytest.raises(InputError, match=r"no table named 'ticket' in this database \(did you mean tickets"):
        describe_table(db, "ticket")
    with pytest.raises(InputError, match="describe_table needs `table`"):
        describe_table(db, "  ")


def test_never_analyzed_table_says_so(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE fresh (id int)")
    d = describe_table(fresh_db, "fresh")
    assert any("never been analyzed" in n for n in d.notes)


def test_monitor_role_is_told_pg_stats_is_hidden(db, pg_server):
    role = "mon_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN IN ROLE pg_monitor")
    try:
        d = describe_table(db.replace("postgresql://postgres@", f"postgresql://{role}@"), "tickets")
        assert all(c["stats"] is None for c in d.columns)
        assert any("pg_stats is hidden" in n for n in d.notes)
        assert {i["name"] for i in d.indexes} == {"tickets_pkey", "tickets_status_index"}  # the catalog still is
    finally:
        with psycopg.connect(pg_server.url(), autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")


def test_the_tool(db, tmp_path):
    ctx = ToolContext(project_root=tmp_path, database_url=db)
    out = DescribeTable().run({"table": "public.tickets"}, ctx)
    assert out.startswith("Table tickets")
    data = json.loads(DescribeTable().run({"table": "tickets", "format": "json"}, ctx))
    assert data["table"] == "tickets" and data["columns"][1]["stats"]["n_distinct"] == 3
    with pytest.raises(InputError):
        DescribeTable().run({}, ctx)
    assert DescribeTable().description.startswith("Describe one table")


def test_unreachable_database(tmp_path):
    from tools.db.server import free_port

    with pytest.raises(InputError, match="could not connect"):
        describe_table(f"postgresql://postgres@127.0.0.1:{free_port()}/x", "tickets")


def test_reachable_through_the_tool_command_once_registered(db, tmp_path):
    from typer.testing import CliRunner

    from tools.base import ToolError
    from tools.registry import get_tool

    try:
        get_tool("describe_table")
    except ToolError:
        pytest.skip("tools/registry.py does not list DescribeTable yet")
    from agent.cli import app

    result = CliRunner().invoke(app, ["tool", "describe_table", "--input", '{"table": "tickets"}',
                                      "--database-url", db, "--project", str(tmp_path)])
    assert result.exit_code == 0 and "Table tickets" in result.stdout
    result = CliRunner().invoke(app, ["tool", "describe_table", "--input", '{"table": "nope"}',
                                      "--database-url", db, "--project", str(tmp_path)])
    assert result.exit_code == 2 and "no table named 'nope'" in result.stderr
