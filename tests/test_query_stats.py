"""pg_stat_statements: column names across versions, the top queries of one database, and
snapshots that show a fix's effect across separate runs."""

import json

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from tools.base import ToolContext, ToolError
from tools.errors import InputError
from tools.logs.stats import _expressions, is_noise, param_columns, top_queries

pytestmark = pytest.mark.db

PG12 = {"queryid", "query", "calls", "total_time", "rows", "shared_blks_hit", "shared_blks_read", "blk_read_time",
        "blk_write_time", "temp_blks_read", "temp_blks_written"}
PG13 = (PG12 - {"total_time"}) | {"total_exec_time", "total_plan_time"}
PG15 = PG13 | {"toplevel", "temp_blk_read_time", "temp_blk_write_time"}
PG17 = (PG15 - {"blk_read_time", "blk_write_time"}) | {"shared_blk_read_time", "shared_blk_write_time"}


@pytest.mark.parametrize("cols, total, io, toplevel", [
    (PG12, "s.total_time", "s.blk_read_time + s.blk_write_time", "true"),
    (PG13, "s.total_exec_time + s.total_plan_time", "s.blk_read_time + s.blk_write_time", "true"),
    (PG15, "s.total_exec_time + s.total_plan_time",
     "s.blk_read_time + s.blk_write_time + s.temp_blk_read_time + s.temp_blk_write_time", "s.toplevel"),
    (PG17, "s.total_exec_time + s.total_plan_time",
     "s.shared_blk_read_time + s.shared_blk_write_time + s.temp_blk_read_time + s.temp_blk_write_time", "s.toplevel"),
])
def test_column_names_by_version(cols, total, io, toplevel):
    exprs = _expressions(cols)
    assert (exprs["total"], exprs["io"], exprs["toplevel"]) == (total, io, toplevel)


def test_unknown_columns_are_a_clear_error():
    with pytest.raises(InputError, match="no total time column"):
        _expressions({"query", "calls"})


def test_noise():
    assert is_noise("BEGIN") and is_noise("/* ecto-optimizer */ SELECT 1") and is_noise("EXPLAIN (ANALYZE) SELECT 1")
    assert is_noise("SELECT * FROM pg_stat_statements") and is_noise("CREATE INDEX ON t (a)")
    assert not is_noise('SELECT u0."id" FROM "users" AS u0 WHERE (u0."id" = $1)')


@pytest.mark.parametrize("sql, columns", [
    ('SELECT s0."id" FROM "shipments" AS s0 WHERE ((s0."carrier_id" = $1) AND (s0."tracking_number" = $2))',
     {1: ("shipments", "carrier_id", False), 2: ("shipments", "tracking_number", False)}),
    ('SELECT s0."id" FROM "shipments" AS s0 WHERE (s0."carrier_id" = $1) ORDER BY s0."id" DESC LIMIT $2 OFFSET $3',
     {1: ("shipments", "carrier_id", False), 2: ("", "20", False), 3: ("", "0", False)}),
    ("SELECT count(*) FROM t WHERE a = ANY($1) AND b IN ($2, $3)",
     {1: ("t", "a", True), 2: ("t", "b", False), 3: ("t", "b", False)}),
    ('SELECT p0."id" FROM "posts" AS p0 INNER JOIN "users" AS u1 ON u1."id" = p0."user_id" WHERE (u1."email" = $1)',
     {1: ("users", "email", False)}),
    ("SELECT * FROM t WHERE a > $1", None),  # a range: no single row says what a typical bound is
    ("SELECT * FROM t WHERE x IN (SELECT y FROM u WHERE z = $1)", None),  # z: t's or u's?
    ("UPDATE t SET a = $1 WHERE id = $2", None),
    ("SELECT 1", None),
])
def test_which_column_each_param_stands_for(sql, columns):
    assert param_columns(sql) == columns


def workload(url: str, slow: int = 30, fast: int = 200) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id bigserial PRIMARY KEY, sku text, qty int)")
        if conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0:
            conn.execute("INSERT INTO items (sku, qty) SELECT 'S' || g, g % 50 FROM generate_series(1, 60000) g")
            conn.execute("ANALYZE items")
            # Forget the set-up (this database only), as if the app had just started.
            conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                         "WHERE datname = current_database()), 0)")
        for i in range(slow):
            conn.execute('SELECT i0."id" FROM "items" AS i0 WHERE (i0."sku" = $1)'.replace("$1", "%s"), (f"S{i + 1}",))
        for i in range(fast):
            conn.execute('SELECT i0."qty" FROM "items" AS i0 WHERE (i0."id" = $1)'.replace("$1", "%s"), (i + 1,))


def test_top_queries_rank_and_compare_across_runs(fresh_db, tmp_path):
    snapshots = tmp_path / "stats.sqlite3"
    workload(fresh_db)
    first = top_queries(fresh_db, snapshots=snapshots)
    assert first.previous is None and first.snapshot.id == 1
    top = first.queries[0]
    assert top.query == 'SELECT i0."id" FROM "items" AS i0 WHERE (i0."sku" = $1)'
    assert top.calls == 30 and top.mean_ms > 0 and top.rows == 30 and 0 < top.share <= 1
    assert top.shared_blks_hit + top.shared_blks_read > 0 and top.delta is None
    # sampled from a row of items, so that explain can run the query with real values
    assert top.example_params is not None and top.example_params[0].startswith("S")
    assert any("example_params" in note for note in first.notes)
    by_calls = top_queries(fresh_db, order_by="calls", keep_snapshot=False)
    assert by_calls.queries[0].calls == 200
    assert all(not is_noise(q.query) for q in first.queries)  # our own reads and the DDL are left out

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE INDEX items_sku ON items (sku)")
    workload(fresh_db, slow=10, fast=0)
    second = top_queries(fresh_db, snapshots=snapshots)
    assert second.previous.id == first.snapshot.id
    after = next(q for q in second.queries if q.queryid == top.queryid)
    assert after.calls == 40 and after.delta.calls == 10
    assert after.delta.previous_mean_ms == pytest.approx(top.mean_ms, rel=1e-3)
    assert after.delta.mean_ms < after.delta.previous_mean_ms  # the index made it cheaper: before/after


def test_a_reset_between_runs_is_noticed(fresh_db, tmp_path):
    snapshots = tmp_path / "stats.sqlite3"
    workload(fresh_db, slow=5, fast=5)
    top_queries(fresh_db, snapshots=snapshots)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()), 0)")
    workload(fresh_db, slow=2, fast=0)
    report = top_queries(fresh_db, snapshots=snapshots)
    q = next(q for q in report.queries if "sku" in q.query)
    assert q.calls == 2 and q.delta.reset and q.delta.calls == 2


def test_without_the_extension_the_message_says_how(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("DROP EXTENSION pg_stat_statements")
    with pytest.raises(InputError, match="pg_stat_statements is not installed .*shared_preload_libraries"):
        top_queries(fresh_db, keep_snapshot=False)


def test_bad_options_and_unreachable_databases():
    with pytest.raises(InputError, match="unknown order"):
        top_queries("postgresql://nobody@127.0.0.1:9/x", order_by="fastest")
    with pytest.raises(InputError, match="could not connect"):
        top_queries("postgresql://nobody@127.0.0.1:9/x", keep_snapshot=False)


def cli():
    from agent.cli_evidence import register

    app = typer.Typer()
    register(app)
    return app


def test_top_command(fresh_db, tmp_path):
    workload(fresh_db, slow=3, fast=3)
    snapshots = str(tmp_path / "s.sqlite3")
    result = CliRunner().invoke(cli(), ["top", "--database-url", fresh_db, "--json", "--snapshots", snapshots])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["queries"] and {"query", "calls", "total_ms", "mean_ms", "io_ms", "rows"} <= set(data["queries"][0])
    text = CliRunner().invoke(cli(), ["top", "--database-url", fresh_db, "--snapshots", snapshots, "--limit", "1"])
    assert text.exit_code == 0 and "Compared with snapshot 1" in text.output
    bad = CliRunner().invoke(cli(), ["top", "--database-url", "postgresql://nobody@127.0.0.1:9/x", "--no-snapshot"])
    assert bad.exit_code == 2 and bad.output.startswith("error: could not connect")


def test_query_stats_tool(fresh_db, tmp_path):
    from tools.logs.tool import QueryStats

    workload(fresh_db, slow=3, fast=3)
    ctx = ToolContext(project_root=tmp_path, database_url=fresh_db)
    data = json.loads(QueryStats().run({"format": "json", "limit": 2}, ctx))
    assert len(data["queries"]) == 2 and data["order_by"] == "total"
    assert (tmp_path / ".ecto-optimizer" / "stats.sqlite3").is_file()
    assert (tmp_path / ".ecto-optimizer" / ".gitignore").read_text() == "*\n"
    assert "pg_stat_statements on" in QueryStats().run({"order_by": "mean"}, ctx)
    with pytest.raises(ToolError, match="needs a database"):
        QueryStats().run({}, ToolContext(project_root=tmp_path))
    with pytest.raises(ToolError, match="limit"):
        QueryStats().run({"limit": 0}, ctx)
