"""The explain tool end to end against a real PostgreSQL server the test run owns."""

import json
import subprocess
import sys

import psycopg
import pytest

from tools.db.server import PASSWORD_ROLE
from tools.errors import InputError
from tools.explain.runner import ExplainOptions, capture_plan
from tools.explain.tool import explain_query

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def tickets_db(pg_server):
    url = pg_server.create_database("explain_tests")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE tickets (
              id bigserial PRIMARY KEY, customer_id bigint NOT NULL, status varchar(255) NOT NULL,
              subject text, inserted_at timestamp(0) NOT NULL DEFAULT now());
            INSERT INTO tickets (customer_id, status, subject)
            SELECT g % 1000, (ARRAY['open','closed','closed','closed'])[1 + g % 4], 'ticket ' || g
            FROM generate_series(1, 300000) g;
            ANALYZE tickets;
            GRANT SELECT ON tickets TO app_with_password;
        """)
    yield url


QUERY = 'SELECT t0."id", t0."subject" FROM "tickets" AS t0 WHERE (t0."customer_id" = $1)'


def test_seq_scan_found_then_gone_after_the_index(tickets_db):
    report = explain_query(QUERY, "[42]", tickets_db)
    assert report.analyzed and report.mode == "analyze"
    seq = [i for i in report.insights if i.id == "seq-scan-filter"]
    assert seq, [i.id for i in report.insights]
    assert seq[0].relation == "tickets" and "customer_id" in seq[0].columns
    assert "create index(:tickets, [:customer_id], concurrently: true)" in seq[0].fix.ecto
    with psycopg.connect(tickets_db, autocommit=True) as conn:
        conn.execute("CREATE INDEX tickets_customer_id_index ON tickets (customer_id)")
    try:
        after = explain_query(QUERY, "[42]", tickets_db)
        assert not [i for i in after.insights if i.id == "seq-scan-filter"]
    finally:
        with psycopg.connect(tickets_db, autocommit=True) as conn:
            conn.execute("DROP INDEX tickets_customer_id_index")


def test_logged_line_with_params_appended(tickets_db):
    report = explain_query(QUERY + " [7]", None, tickets_db)
    assert report.mode == "analyze"
    assert report.plan.root.actual_rows_total == 300


def test_update_with_writes_allowed_leaves_data_unchanged(tickets_db):
    sql = 'UPDATE "tickets" AS t0 SET "status" = $1 WHERE (t0."customer_id" = $2)'
    report = explain_query(sql, '["archived", 5]', tickets_db, ExplainOptions(allow_writes=True))
    assert report.analyzed
    assert any("rolled back" in n for n in report.notes)
    with psycopg.connect(tickets_db) as conn:
        assert conn.execute("SELECT count(*) FROM tickets WHERE status = 'archived'").fetchone()[0] == 0


def test_write_without_permission_is_planned_not_run(tickets_db):
    report = explain_query('DELETE FROM "tickets" AS t0 WHERE (t0."id" = $1)', "[1]", tickets_db)
    assert not report.analyzed and report.mode == "plain"
    assert any("without running it" in n for n in report.notes)
    with psycopg.connect(tickets_db) as conn:
        assert conn.execute("SELECT count(*) FROM tickets WHERE id = 1").fetchone()[0] == 1


def test_no_params_gives_the_generic_plan(tickets_db):
    report = explain_query(QUERY, None, tickets_db)
    assert report.mode == "generic" and not report.analyzed
    assert report.plan.root.plan_rows > 0


def test_ddl_is_refused_before_connecting():
    with pytest.raises(InputError, match="refusing to explain DROP"):
        capture_plan("DROP TABLE tickets", None, "postgresql://nobody@127.0.0.1:1/none")


def test_slow_query_hits_the_timeout(tickets_db):
    with pytest.raises(InputError) as exc:
        capture_plan("SELECT count(*) FROM tickets a, tickets b WHERE a.id > b.id", None, tickets_db,
                     ExplainOptions(statement_timeout_ms=200))
    assert "200 ms statement timeout" in str(exc.value)


def test_missing_table(tickets_db):
    with pytest.raises(InputError, match='relation "nope" does not exist'):
        capture_plan("SELECT * FROM nope", None, tickets_db)


def test_wrong_password_is_clear_and_never_echoed(pg_server, tickets_db):
    url = pg_server.url("explain_tests", PASSWORD_ROLE, "wrong-secret-pw")
    with pytest.raises(InputError) as exc:
        capture_plan("SELECT 1", None, url)
    assert "password authentication failed" in str(exc.value)
    assert "wrong-secret-pw" not in str(exc.value)
    # The right password works, and a role with only SELECT can be explained against.
    ok = explain_query(QUERY, "[1]", pg_server.url("explain_tests", PASSWORD_ROLE, PASSWORD))
    assert ok.analyzed


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, env=env)


def test_cli_json_shape(tickets_db):
    out = _cli("explain", QUERY, "--params", "[42]", "--database-url", tickets_db, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"query", "server_version", "analyzed", "planning_time_ms", "execution_time_ms", "summary",
            "nodes", "insights"} <= set(data)
    assert data["analyzed"] is True and data["server_version"].startswith("15")
    node_keys = {"id", "parent", "node_type", "relation", "inclusive_ms", "exclusive_ms", "exclusive_pct",
                 "plan_rows", "actual_rows", "loops", "estimate_factor"}
    assert all(node_keys <= set(n) for n in data["nodes"])
    insight = next(i for i in data["insights"] if i["id"] == "seq-scan-filter")
    assert {"id", "title", "score", "node", "relation", "columns", "evidence", "fix"} <= set(insight)
    assert set(insight["fix"]) == {"sql", "ecto"}


@pytest.mark.parametrize("args, fragment", [
    (["SELECT * FROM nope"], 'relation "nope" does not exist'),
    (["VACUUM"], "refusing to explain VACUUM"),
    (["SELECT (("], "cannot parse"),
    (["SELECT 1", "--database-url", "postgresql://u:hunter22@127.0.0.1:1/x"], "could not connect"),
    (["SELECT 1", "--database-url", "postgresql://u:hunter22@host:notaport/x"], "invalid database URL"),
    (["SELECT $1", "--params", "[1, "], "cannot read params"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tickets_db, args, fragment):
    if "--database-url" not in args:
        args = [*args, "--database-url", tickets_db]
    out = _cli("explain", *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], out.stderr
    assert "Traceback" not in out.stderr and "hunter22" not in out.stderr + out.stdout
