"""The health runner against the real test server: read-only with timeouts, the pg_monitor-only
role and what it cannot read, bad input as one line, and the CLI's JSON."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from agent.cli_health import register
from tools.errors import InputError
from tools.health.model import Finding, HealthCheck
from tools.health.runner import open_session, run_health, run_one
from tools.db.connect import connect
from tools.db.server import PASSWORD_ROLE

SCENARIO = """
CREATE TABLE projects (id bigserial PRIMARY KEY, name text NOT NULL);
INSERT INTO projects (name) SELECT 'p' || g FROM generate_series(1, 200) g;
CREATE TABLE tasks (id bigserial PRIMARY KEY, title text NOT NULL,
                    project_id bigint NOT NULL REFERENCES projects ON DELETE CASCADE);
INSERT INTO tasks (title, project_id) SELECT 'task number ' || g, 1 + g % 200 FROM generate_series(1, 200000) g;
CREATE INDEX tasks_title_index ON tasks (title);
CREATE INDEX tasks_title_id_index ON tasks (title, id);
CREATE TABLE widgets (id serial PRIMARY KEY, name text);
SELECT setval('widgets_id_seq', 2000000000);
DELETE FROM tasks WHERE id % 10 <> 0;
VACUUM tasks;
ANALYZE;
"""


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a callback keeps `health` a subcommand, as in the real app
        pass

    register(app)
    return app


def _scenario(url: str) -> None:
    import pglast

    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in pglast.split(SCENARIO):
            conn.execute(stmt)
            conn.execute("SELECT pg_stat_force_next_flush()")  # as a server would within a second


@pytest.fixture
def monitor_role(pg_server, fresh_db):
    """A login role with pg_monitor and nothing else: no SELECT on any table or sequence."""
    name = "monitor_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
        conn.execute(f"GRANT pg_monitor TO {name}")
    yield name
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
def plain_role(pg_server, fresh_db):
    name = "plain_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    yield name
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")


def as_role(url: str, role: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://{role}@")


# ---- read-only, timeouts -----------------------------------------------------------------------

class Writes(HealthCheck):
    id = "writes"

    def run(self, db):
        db.rows("CREATE TABLE sneaky (id int)")
        return []


class Sleeps(HealthCheck):
    id = "sleeps"

    def run(self, db):
        db.rows("SELECT pg_sleep(5)")
        return []


class Reads(HealthCheck):
    id = "reads"

    def run(self, db):
        db.rows("SELECT count(*) FROM locked")
        return [Finding(check="reads", severity="info", object="locked", message="read it")]


class Broken(HealthCheck):
    id = "broken"

    def run(self, db):
        raise ZeroDivisionError("a bug")


def test_a_check_cannot_write_and_the_rest_still_runs(fresh_db):
    with connect(fresh_db) as conn:
        conn.read_only = True
        db = open_session(conn, fresh_db)
        assert run_one(db, Writes()) == []
        # the failed check cost only its savepoint: the transaction still answers
        assert db.one("SELECT 1 AS one")["one"] == 1
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        conn.rollback()
    assert any("read-only transaction" in u.why for u in db.unread)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('sneaky')").fetchone()[0] is None


def test_statement_timeout_costs_one_check(fresh_db):
    with connect(fresh_db) as conn:
        conn.read_only = True
        db = open_session(conn, fresh_db, statement_timeout_ms=200)
        assert run_one(db, Sleeps()) == []
        assert db.one("SELECT 2 AS two")["two"] == 2
        conn.rollback()
    assert [u.why for u in db.unread] == ["it took longer than the statement timeout and was cancelled"]


def test_lock_timeout_costs_one_check(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as setup:
        setup.execute("CREATE TABLE locked (id int)")
    holder = psycopg.connect(fresh_db)
    try:
        holder.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
        with connect(fresh_db) as conn:
            conn.read_only = True
            db = open_session(conn, fresh_db, lock_timeout_ms=100)
            assert run_one(db, Reads()) == []
            conn.rollback()
        assert "lock" in db.unread[0].why
    finally:
        holder.rollback()
        holder.close()


def test_a_broken_check_is_reported_not_raised(fresh_db):
    with connect(fresh_db) as conn:
        conn.read_only = True
        db = open_session(conn, fresh_db)
        assert run_one(db, Broken()) == []
        with pytest.raises(ZeroDivisionError):
            run_one(db, Broken(), strict=True)
        conn.rollback()
    assert "ZeroDivisionError" in db.unread[0].why


def test_full_run_as_superuser_reads_everything(fresh_db, tmp_path):
    _scenario(fresh_db)
    report = run_health(fresh_db, strict=True)
    assert len(report.checks) == 20
    assert report.unread == [], report.unread
    by_check = {}
    for f in report.findings:
        by_check.setdefault(f.check, []).append(f)
    assert {"fk-without-index", "duplicate-index", "sequence-overflow", "index-bloat", "table-bloat"} <= set(by_check)
    assert any(f.object == "tasks_title_index" for f in by_check["duplicate-index"])
    # worst first
    order = {"error": 0, "warning": 1, "info": 2}
    assert [order[f.severity] for f in report.findings] == sorted(order[f.severity] for f in report.findings)
    text = report.text()
    assert "Could not read" not in text and "[error] sequence-overflow: widgets_id_seq" in text


# ---- roles -------------------------------------------------------------------------------------

def test_pg_monitor_role_reports_what_it_could_not_read(fresh_db, monitor_role):
    _scenario(fresh_db)
    holder = psycopg.connect(fresh_db, application_name="app-holder")
    try:
        holder.execute("SELECT count(*) FROM projects")  # idle in transaction, with a query to show
        report = run_health(as_role(fresh_db, monitor_role), strict=True)
    finally:
        holder.rollback()
        holder.close()
    assert report.role["monitor"] and report.role["read_all_stats"] and not report.role["superuser"]
    unread = {u.check: u for u in report.unread}
    # sequence values and pg_stats are hidden without SELECT; the runner says which and why
    assert "widgets_id_seq" in unread["sequence-overflow"].what
    assert "GRANT SELECT" in unread["sequence-overflow"].why
    assert "tasks" in unread["index-bloat"].what and "pg_stats" in unread["index-bloat"].why
    assert "tasks" in unread["table-bloat"].what
    checks = {f.check for f in report.findings}
    # the catalog and statistics checks still work
    assert {"fk-without-index", "duplicate-index"} <= checks
    assert "sequence-overflow" not in checks and "index-bloat" not in checks
    # pg_read_all_stats (in pg_monitor) shows other sessions' queries: nothing hidden there
    assert "idle-in-transaction" not in unread and "long-running" not in unread
    assert not report.notes
    text = report.text()
    assert "Could not read" in text and "sequence-overflow" in text


def test_a_role_without_monitoring_rights_is_told_what_to_grant(fresh_db, plain_role):
    holder = psycopg.connect(fresh_db, application_name="app-holder")
    try:
        holder.execute("SELECT 1")
        report = run_health(as_role(fresh_db, plain_role), only=["idle-in-transaction", "config"],
                            thresholds=None, strict=True)
    finally:
        holder.rollback()
        holder.close()
    assert any("pg_monitor" in n for n in report.notes)
    whys = " ".join(f"{u.check}: {u.what} {u.why}" for u in report.unread)
    assert "data_directory" in whys  # the host machine cannot be identified
    assert "idle-in-transaction" in whys and "GRANT pg_monitor" in whys


# ---- bad input ---------------------------------------------------------------------------------

def test_unreachable_database_is_one_line(free_port_url):
    with pytest.raises(InputError, match=r"^could not connect to 127\.0\.0\.1:\d+/nodb: connection refused"):
        run_health(free_port_url)


@pytest.fixture
def free_port_url():
    from tools.db.server import free_port

    return f"postgresql://postgres@127.0.0.1:{free_port()}/nodb"


def test_cli_unreachable_and_bad_url_exit_2_with_one_line(free_port_url):
    runner = CliRunner()
    for url, expected in ((free_port_url, "could not connect"), ("mysql://x@localhost/db", "scheme must be"),
                          ("not a url", "invalid database URL")):
        result = runner.invoke(cli_app(), ["health", "--database-url", url])
        assert result.exit_code == 2, result.output
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_cli_wrong_password_is_not_echoed(pg_server):
    url = pg_server.url(user=PASSWORD_ROLE, password="wrong-horse-battery")
    result = CliRunner().invoke(cli_app(), ["health", "--database-url", url])
    assert result.exit_code == 2
    assert "wrong-horse-battery" not in result.stderr and "password authentication failed" in result.stderr


def test_cli_rejects_unknown_check_and_bad_flags(fresh_db):
    runner = CliRunner()
    result = runner.invoke(cli_app(), ["health", "--database-url", fresh_db, "--check", "nope"])
    assert result.exit_code == 2 and "unknown check 'nope'" in result.stderr
    result = runner.invoke(cli_app(), ["health", "--database-url", fresh_db, "--memory", "lots"])
    assert result.exit_code == 2 and "invalid memory size" in result.stderr
    result = runner.invoke(cli_app(), ["health", "--database-url", fresh_db, "--storage", "tape"])
    assert result.exit_code == 2 and "invalid storage" in result.stderr


def test_cli_json_shape(fresh_db):
    _scenario(fresh_db)
    result = CliRunner().invoke(cli_app(), ["health", "--database-url", fresh_db, "--json", "--memory", "16GB",
                                            "--cores", "4", "--storage", "ssd"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["findings"]
    for f in data["findings"]:
        assert set(f) == {"check", "severity", "object", "message", "evidence", "fix"}
        assert f["severity"] in ("error", "warning", "info")
        assert any(f["fix"].values()), f
    assert data["machine"]["cores"] == 4 and data["machine"]["source"]["memory"] == "flag"
    config = [f for f in data["findings"] if f["check"] == "config" and f["object"] == "setting shared_buffers"]
    assert config and config[0]["evidence"]["suggested"] == "4GB"


def test_cli_text_and_check_subset(fresh_db):
    _scenario(fresh_db)
    result = CliRunner().invoke(cli_app(), ["health", "--database-url", fresh_db, "--check", "fk-without-index"])
    assert result.exit_code == 0
    assert "fk-without-index: tasks.project_id" in result.stdout
    assert "create index(:tasks, [:project_id], concurrently: true)" in result.stdout
    assert "1 check:" in result.stdout


def test_health_is_wired_into_the_main_cli_when_registered(fresh_db):
    from agent.cli import app

    names = {c.name for c in app.registered_commands}
    if "health" not in names:
        pytest.skip("agent/cli.py does not call cli_health.register(app) yet")
    result = CliRunner().invoke(app, ["health", "--database-url", fresh_db, "--check", "json-column", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["findings"] == []


def test_db_health_tool(fresh_db, tmp_path):
    from tools.base import ToolContext
    from tools.health.tool import DbHealth

    _scenario(fresh_db)
    ctx = ToolContext(project_root=tmp_path, database_url=fresh_db)
    out = DbHealth().run({"checks": ["fk-without-index", "duplicate-index"], "min_severity": "warning"}, ctx)
    assert "tasks.project_id" in out and "tasks_title_index" in out
    data = json.loads(DbHealth().run({"checks": ["sequence-overflow"], "format": "json"}, ctx))
    assert data["findings"][0]["object"] == "widgets_id_seq"
    with pytest.raises(InputError, match="unknown check"):
        DbHealth().run({"checks": ["bogus"]}, ctx)
    assert DbHealth().description.startswith("Check the database's health")


def test_cli_lists_the_checks_without_a_database():
    result = CliRunner().invoke(cli_app(), ["health", "--list-checks"])
    assert result.exit_code == 0
    assert "fk-without-index: " in result.stdout and "threshold: " in result.stdout
    data = json.loads(CliRunner().invoke(cli_app(), ["health", "--list-checks", "--json"]).stdout)
    assert len(data) == 20 and all(d["threshold"] for d in data)
