"""The index advisor against the test run's PostgreSQL: HypoPG validation, the workload search, the
paths without HypoPG, the agent tools and the command line. Nothing here mocks the database."""

from __future__ import annotations

import json
import re
import uuid

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from tools.base import ToolContext
from tools.errors import InputError
from tools.indexes.advisor import AdviseOptions, QueryInput, advise
from tools.indexes.tool import AdviseIndexes, HypotheticalIndex

pytestmark = pytest.mark.db

SHOP = """
SET synchronous_commit = on;  -- VACUUM marks pages all-visible only once their commits are flushed
SELECT setseed(0.5);
CREATE TABLE settings (id bigserial PRIMARY KEY, key text NOT NULL, value text);
INSERT INTO settings (key, value) SELECT 'k' || g, 'v' FROM generate_series(1, 20) g;
CREATE TABLE events (id bigserial PRIMARY KEY, account_id bigint NOT NULL, kind text NOT NULL,
                     subject_id bigint, occurred_at timestamp(0) NOT NULL, payload text);
-- account 1 is the big customer: 2% of all events, 100 times the average account
INSERT INTO events (account_id, kind, subject_id, occurred_at, payload)
SELECT CASE WHEN g % 50 = 0 THEN 1 ELSE 2 + (g::bigint * 7919) % 3000 END,
       (ARRAY['invoice.created','invoice.paid','user.login','report.exported'])[1 + g % 4],
       (g::bigint * 104729) % 100000, timestamp '2024-01-01' + make_interval(secs => g * 60), md5(g::text)
FROM generate_series(1, 300000) g;
CREATE TABLE users (id bigserial PRIMARY KEY, email varchar(255) NOT NULL, name text NOT NULL,
                    deleted_at timestamp(0), plan text NOT NULL);
INSERT INTO users (email, name, deleted_at, plan)
SELECT 'User' || g || '@Example.com', 'User ' || g, CASE WHEN g % 40 = 0 THEN timestamp '2024-02-01' END,
       CASE WHEN g % 10 = 0 THEN 'pro' ELSE 'free' END
FROM generate_series(1, 100000) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
                     total_cents bigint NOT NULL, placed_at timestamp(0) NOT NULL, note text);
CREATE INDEX orders_customer_id_index ON orders (customer_id);
-- 600 customers with 500 orders each, spread over the whole table
INSERT INTO orders (customer_id, status, total_cents, placed_at, note)
SELECT 1 + (g::bigint * 31) % 600,
       CASE WHEN g % 100 = 0 THEN 'pending' WHEN g % 100 < 20 THEN 'paid' ELSE 'shipped' END,
       (g::bigint * 7) % 100000, timestamp '2023-01-01' + make_interval(secs => g * 90), 'note ' || md5(g::text)
FROM generate_series(1, 300000) g;
"""

FEED = ('SELECT e0."id", e0."kind", e0."subject_id", e0."occurred_at" FROM "events" AS e0 '
        'WHERE ((e0."account_id" = $1) AND (e0."occurred_at" >= $2)) ORDER BY e0."occurred_at" DESC LIMIT 100')
FEED_PARAMS = [20, "2024-03-01 00:00:00"]  # a mid-sized account: scanning recent events for it is slow
BY_SUBJECT = 'SELECT e0."id", e0."kind" FROM "events" AS e0 WHERE (e0."subject_id" = $1)'
PENDING = ('SELECT o0."id", o0."placed_at" FROM "orders" AS o0 WHERE (o0."status" = \'pending\') '
           'ORDER BY o0."placed_at" LIMIT 50')
PENDING_PARAM = ('SELECT o0."id", o0."placed_at" FROM "orders" AS o0 WHERE (o0."status" = $1) '
                 'ORDER BY o0."placed_at" LIMIT 50')
BY_EMAIL = 'SELECT u0."id", u0."name" FROM "users" AS u0 WHERE (lower(u0."email") = $1)'
TOTAL = 'SELECT sum(o0."total_cents") FROM "orders" AS o0 WHERE (o0."customer_id" = $1)'
RECOMMENDATION_KEYS = {"table", "columns", "where", "include", "unique", "sql", "ecto_migration", "cost_before",
                       "cost_after", "size_bytes", "queries"}


def load(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SHOP)
        for table in ("settings", "events", "users", "orders"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return url


def new_database(pg_server, extensions=("pg_stat_statements", "hypopg")) -> tuple[str, str]:
    name = "idx_" + uuid.uuid4().hex[:10]
    return name, pg_server.create_database(name, extensions=extensions)


def drop_database(pg_server, name: str) -> None:
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def shop(pg_server):
    name, url = new_database(pg_server)
    yield load(url)
    drop_database(pg_server, name)


@pytest.fixture(scope="module")
def shop_without_hypopg(pg_server):
    name, url = new_database(pg_server, extensions=("pg_stat_statements",))
    yield load(url)
    drop_database(pg_server, name)


def index_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}


def only(advice, table: str):
    recs = [r for r in advice.recommendations if r.index.table == table]
    assert len(recs) == 1, [r.index.label() for r in advice.recommendations]
    return recs[0]


# -- what the advisor recommends -----------------------------------------------------------------


def test_column_order_equality_then_range(shop):
    advice = advise([QueryInput(FEED, FEED_PARAMS, 100)], shop)
    rec = only(advice, "events")
    assert rec.index.keys == ("account_id", "occurred_at")
    assert rec.cost_after < rec.cost_before / 10
    assert rec.queries[0]["calls"] == 100 and rec.queries[0]["cost_after"] < rec.queries[0]["cost_before"]
    assert rec.sql == ("CREATE INDEX CONCURRENTLY events_account_id_occurred_at_index "
                       "ON events (account_id, occurred_at);")
    assert "create index(:events, [:account_id, :occurred_at], concurrently: true)" in rec.ecto_migration
    assert rec.redundant == []
    assert advice.mode == "hypopg" and "compare them with each other" in " ".join(advice.notes)
    assert rec.size_bytes > 0 and advice.workload_after < advice.workload_before


def test_column_order_equality_then_sort(shop):
    sql = ('SELECT e0."id", e0."subject_id" FROM "events" AS e0 WHERE ((e0."account_id" = $1) AND (e0."kind" = $2)) '
           'ORDER BY e0."occurred_at" DESC LIMIT 20')
    rec = only(advise([QueryInput(sql, [1, "user.login"])], shop), "events")
    assert set(rec.index.keys[:2]) == {"account_id", "kind"} and rec.index.keys[2] == "occurred_at"


def test_partial_index_for_a_literal_predicate_only(shop):
    rec = only(advise([QueryInput(PENDING, None, 10)], shop), "orders")
    assert rec.index.where == "status = 'pending'" and rec.index.keys == ("placed_at",)
    assert 'where: "status = \'pending\'"' in rec.ecto_migration
    assert rec.sql.endswith("ON orders (placed_at) WHERE status = 'pending';")
    # behind $1 a partial index cannot match a generic plan: no WHERE is proposed
    advice = advise([QueryInput(PENDING_PARAM, ["pending"], 10)], shop)
    assert advice.recommendations and all(r.index.where is None for r in advice.recommendations)


def test_expression_index_for_a_function_of_a_column(shop):
    rec = only(advise([QueryInput(BY_EMAIL, ["user42@example.com"], 50)], shop), "users")
    assert rec.index.keys == ("lower(email)",)
    assert rec.sql == "CREATE INDEX CONCURRENTLY users_lower_email_index ON users (lower(email));"
    assert 'create index(:users, ["lower(email)"], concurrently: true)' in rec.ecto_migration


def test_covering_index_for_a_narrow_aggregate_and_the_prefix_it_makes_redundant(shop):
    advice = advise([QueryInput(TOTAL, [7], 200)], shop)
    rec = only(advice, "orders")
    covering = rec.index.include == ("total_cents",) or rec.index.keys == ("customer_id", "total_cents")
    assert rec.index.keys[0] == "customer_id" and covering, rec.index.label()
    assert rec.cost_after < rec.cost_before / 5
    # the existing (customer_id) index is a prefix: redundant, and HypoPG 1.3 could not measure without it
    assert rec.redundant == ["orders_customer_id_index"]
    assert any("orders_customer_id_index" in n and "redundant" in n for n in advice.notes)
    assert any("cannot hide existing indexes" in n for n in advice.notes)
    assert "Afterwards orders_customer_id_index is redundant" in rec.ecto_migration


def test_workload_trade_off_under_a_budget(shop):
    workload = [QueryInput(FEED, FEED_PARAMS, 1000), QueryInput(BY_SUBJECT, [4242], 1)]
    unlimited = advise(workload, shop)
    assert {r.index.keys for r in unlimited.recommendations} == {("account_id", "occurred_at"), ("subject_id",)}
    sizes = {r.index.keys: r.size_bytes for r in unlimited.recommendations}
    budget = max(sizes.values()) * 1.2  # room for one index, not two
    assert budget < sum(sizes.values())
    tight = advise(workload, shop, AdviseOptions(budget_mb=budget / 1024 / 1024))
    (rec,) = tight.recommendations
    assert rec.index.keys == ("account_id", "occurred_at")  # the one that saves the most calls x cost
    assert rec.size_bytes <= budget


def test_heavy_writes_outweigh_a_rare_query(shop):
    insert = QueryInput('INSERT INTO "events" ("account_id","kind","occurred_at") VALUES ($1,$2,$3) RETURNING "id"',
                        [7, "user.login", "2025-01-01 00:00:00"], 5_000_000)
    rare = advise([QueryInput(BY_SUBJECT, [4242], 1), insert], shop)
    assert rare.recommendations == []
    assert any("pay for itself" in n for n in rare.notes)
    frequent = advise([QueryInput(BY_SUBJECT, [4242], 100_000), insert], shop)
    assert [r.index.keys for r in frequent.recommendations] == [("subject_id",)]


def test_queries_on_tiny_tables_get_no_candidates(shop):
    advice = advise([QueryInput('SELECT s0."value" FROM "settings" AS s0 WHERE (s0."key" = $1)', ["k3"])], shop)
    assert advice.recommendations == []
    assert any("tiny tables (settings)" in n for n in advice.notes)


def test_the_workload_from_pg_stat_statements_and_its_tables_writes(pg_server, fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for table in ("tickets", "audit_log"):
            conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, subject text)")
            conn.execute(f"INSERT INTO {table} (customer_id, subject) SELECT g % 5000, 'subject ' || g "
                         "FROM generate_series(1, 100000) g")
            conn.execute(f"VACUUM (ANALYZE) {table}")
    # A new session, once the loading one has flushed its statistics: both windows start now, so
    # the bulk load does not count as the workload's writes.
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        conn.execute("SELECT pg_stat_reset()")
        for i in range(7):
            conn.execute('SELECT t0."id", t0."subject" FROM "tickets" AS t0 WHERE (t0."customer_id" = %s)', (i,))
            conn.execute('SELECT a0."id", a0."subject" FROM "audit_log" AS a0 WHERE (a0."customer_id" = %s)', (i,))
        # audit_log is written far more than it is read: an index would cost every one of these rows
        conn.execute("INSERT INTO audit_log (customer_id, subject) "
                     "SELECT g % 5000, 'x' FROM generate_series(1, 200000) g")
    advice = advise([], fresh_db, AdviseOptions(from_pg_stat_statements=True))
    rec = only(advice, "tickets")
    assert rec.index.keys == ("customer_id",)
    assert rec.queries[0]["calls"] == 7 and "$1" in rec.queries[0]["sql"]
    assert not [r for r in advice.recommendations if r.index.table == "audit_log"]
    assert any("pg_stat_statements replaces every constant" in n for n in advice.notes)
    # the advisor's own statements (EXPLAIN, hypopg, catalog look-ups) are not read back as workload
    again = advise([], fresh_db, AdviseOptions(from_pg_stat_statements=True))
    assert [r.queries[0]["sql"] for r in again.recommendations] == [rec.queries[0]["sql"]]


def test_pg_stat_statements_must_be_there(pg_server):
    name, url = new_database(pg_server, extensions=("hypopg",))
    try:
        with pytest.raises(InputError, match="pg_stat_statements is not installed"):
            advise([], url, AdviseOptions(from_pg_stat_statements=True))
    finally:
        drop_database(pg_server, name)


# -- without HypoPG ------------------------------------------------------------------------------


def test_without_hypopg_candidates_are_unvalidated_and_that_is_a_note(shop_without_hypopg):
    advice = advise([QueryInput(FEED, FEED_PARAMS), QueryInput(PENDING)], shop_without_hypopg)
    assert advice.mode == "unvalidated" and advice.recommendations == []
    labels = {u.index.label() for u in advice.unvalidated}
    assert labels == {"events (account_id, occurred_at)", "orders (placed_at) WHERE status = 'pending'"}
    assert sum("HypoPG is not available" in n for n in advice.notes) == 1
    assert any("CREATE EXTENSION hypopg" in n for n in advice.notes)
    data = advice.as_json()
    assert set(data) == {"recommendations", "unvalidated", "notes"}
    assert set(data["unvalidated"][0]) == RECOMMENDATION_KEYS and data["unvalidated"][0]["cost_after"] is None


def test_scratch_builds_real_indexes_and_rolls_them_back(shop_without_hypopg):
    before = index_names(shop_without_hypopg)
    advice = advise([QueryInput(FEED, FEED_PARAMS, 10), QueryInput(TOTAL, [7], 200)], shop_without_hypopg,
                    AdviseOptions(scratch=True))
    assert advice.mode == "scratch"
    feed = only(advice, "events")
    assert feed.index.keys == ("account_id", "occurred_at") and feed.size_bytes > 0
    total = only(advice, "orders")
    assert total.redundant == ["orders_customer_id_index"]  # measured: a scratch database can drop it
    assert not any("cannot hide" in n for n in advice.notes)
    assert index_names(shop_without_hypopg) == before


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("inputs, options, message", [
    ([], AdviseOptions(), "nothing to advise on"),
    ([QueryInput("DROP TABLE events")], AdviseOptions(), "refusing to explain DROP"),
    ([QueryInput("SELEC 1")], AdviseOptions(), "cannot parse"),
    ([QueryInput(FEED, [1])], AdviseOptions(), r"uses \$2 but 1 params"),
    ([QueryInput(FEED, "[1, ")], AdviseOptions(), "cannot read params"),
    ([QueryInput(FEED, FEED_PARAMS, 0)], AdviseOptions(), "calls must be positive"),
    ([QueryInput(FEED, FEED_PARAMS)], AdviseOptions(budget_mb=0), "--budget-mb must be a positive"),
    ([QueryInput('SELECT * FROM "nope" AS n0 WHERE (n0."id" = $1)', [1])], AdviseOptions(),
     "none of the queries could be planned"),
])
def test_bad_input_is_one_clear_error(shop, inputs, options, message):
    with pytest.raises(InputError, match=message):
        advise(inputs, shop, options)


def test_an_unreachable_database_is_one_clear_error():
    with pytest.raises(InputError, match="could not connect"):
        advise([QueryInput(FEED, FEED_PARAMS)], "postgresql://nobody@127.0.0.1:1/none")


# -- agent tools ---------------------------------------------------------------------------------


def test_hypothetical_index_tool_compares_costs_and_says_what_is_used(shop, tmp_path):
    ctx = ToolContext(project_root=tmp_path, database_url=shop)
    params = {"indexes": [{"table": "events", "columns": ["account_id", "occurred_at"]},
                          {"table": "events", "columns": ["kind"], "where": "kind = 'user.login'"}],
              "queries": [{"sql": FEED, "params": FEED_PARAMS}]}
    data = json.loads(HypotheticalIndex().run({**params, "format": "json"}, ctx))
    assert data["validated"]
    (q,) = data["queries"]
    assert q["cost_after"] < q["cost_before"] / 10
    assert q["uses"] == ["events (account_id, occurred_at)"]
    assert data["indexes"][0]["size_bytes"] > 0 and data["indexes"][1]["error"] is None
    assert data["indexes"][0]["ecto"] == "create index(:events, [:account_id, :occurred_at], concurrently: true)"
    text = HypotheticalIndex().run(params, ctx)
    assert "uses: events (account_id, occurred_at)" in text and "x)" in text
    instead = HypotheticalIndex().run({"indexes": [{"table": "orders", "columns": ["customer_id"],
                                                    "include": ["total_cents"]}],
                                       "queries": [{"sql": TOTAL, "params": [7]}]}, ctx)
    assert "uses: orders (customer_id) INCLUDE (total_cents)" in instead
    assert "orders_customer_id_index stayed in every plan" in instead  # HypoPG 1.3 cannot hide it


def test_hypothetical_index_tool_bad_input_and_no_hypopg(shop, shop_without_hypopg, tmp_path):
    ctx = ToolContext(project_root=tmp_path, database_url=shop)
    with pytest.raises(InputError, match="cannot create gin"):
        HypotheticalIndex().run({"indexes": [{"table": "events", "columns": ["payload"], "using": "gin"}],
                                 "queries": [FEED]}, ctx)
    with pytest.raises(InputError, match="no table nope"):
        HypotheticalIndex().run({"indexes": [{"table": "nope", "columns": ["a"]}], "queries": [FEED]}, ctx)
    with pytest.raises(InputError, match="columns"):
        HypotheticalIndex().run({"indexes": [{"table": "events", "columns": []}], "queries": [FEED]}, ctx)
    broken = HypotheticalIndex().run({"indexes": [{"table": "events", "columns": ["no_such_column"]}],
                                      "queries": [{"sql": FEED, "params": FEED_PARAMS}], "format": "json"}, ctx)
    assert "no_such_column" in json.loads(broken)["indexes"][0]["error"]
    without = ToolContext(project_root=tmp_path, database_url=shop_without_hypopg)
    data = json.loads(HypotheticalIndex().run({"indexes": [{"table": "events", "columns": ["kind"]}],
                                               "queries": [{"sql": FEED, "params": FEED_PARAMS}],
                                               "format": "json"}, without))
    assert not data["validated"] and data["queries"][0]["cost_before"] > 0
    assert "HypoPG is not available" in data["notes"][0]


def test_advise_indexes_tool_uses_the_projects_module_prefix(shop, tmp_path):
    migrations = tmp_path / "priv" / "repo" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_create_events.exs").write_text(
        "defmodule Pulse.Repo.Migrations.CreateEvents do\n  use Ecto.Migration\nend\n")
    ctx = ToolContext(project_root=tmp_path, database_url=shop)
    data = json.loads(AdviseIndexes().run({"queries": [{"sql": FEED, "params": FEED_PARAMS, "calls": 5}],
                                           "format": "json"}, ctx))
    (rec,) = data["recommendations"]
    assert set(rec) == RECOMMENDATION_KEYS
    assert rec["ecto_migration"].startswith("defmodule Pulse.Repo.Migrations.CreateEventsAccountIdOccurredAtIndex do")
    text = AdviseIndexes().run({"queries": [FEED], "scratch": True}, ctx)
    assert "events (account_id, occurred_at)" in text and "does not allow writes" in text
    with pytest.raises(InputError, match="queries"):
        AdviseIndexes().run({"queries": "SELECT 1"}, ctx)


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli():
    from agent.cli_indexes import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so the command keeps its name
        pass

    register(app)
    return app


def test_cli_json_shape_pairs_params_and_writes_migrations(cli, shop, tmp_path):
    from tools.ecto.migration import CreateIndex, parse_migration
    from tools.ecto.migration_sql import migration_sql

    out = tmp_path / "migrations"
    result = CliRunner().invoke(cli, ["advise-indexes", "--database-url", shop, "--sql", PENDING,
                                      "--sql", FEED, "--params", json.dumps(FEED_PARAMS),
                                      "--write-migrations", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"recommendations", "unvalidated", "notes"}
    assert {tuple(r["columns"]) for r in data["recommendations"]} == {("placed_at",), ("account_id", "occurred_at")}
    for rec in data["recommendations"]:
        assert set(rec) == RECOMMENDATION_KEYS
    files = sorted(out.glob("*.exs"))
    assert len(files) == 2
    for path in files:
        assert re.fullmatch(r"\d{14}_create_\w+_index\.exs", path.name)
        migration = parse_migration(path.read_text(), path=str(path))
        assert migration.disable_ddl_transaction and migration.disable_migration_lock
        (op,) = migration.change.ops
        assert isinstance(op, CreateIndex) and op.index.opts.get("concurrently") is True
        (stmt,) = migration_sql(migration, "up")
        sqls = {r["sql"].rstrip(";") for r in data["recommendations"]}
        assert stmt.sql.replace('"', "") in sqls  # the Ecto migration builds exactly the printed index
    assert files[0].name[:14] < files[1].name[:14]


@pytest.mark.parametrize("args, message", [
    (["--params", "[1]", "--sql", "SELECT 1"], "--params must follow the --sql"),
    (["--sql", "DROP TABLE events"], "refusing to explain DROP"),
    ([], "nothing to advise on"),
    (["--sql", FEED, "--params", "[1]"], "uses $2 but 1 params"),
    (["--sql", FEED, "--budget-mb", "-3"], "--budget-mb must be a positive"),
])
def test_cli_bad_input_is_one_line_and_exit_2(cli, shop, args, message):
    result = CliRunner().invoke(cli, ["advise-indexes", "--database-url", shop, *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_cli_text_output(cli, shop):
    result = CliRunner().invoke(cli, ["advise-indexes", "--database-url", shop, "--sql", BY_EMAIL,
                                      "--params", '["user42@example.com"]'])
    assert result.exit_code == 0, result.output
    assert "users (lower(email))" in result.stdout and "defmodule MyApp.Repo.Migrations." in result.stdout


def test_rows_read_are_capped_by_a_limit():
    from tools.indexes.costs import rows_read

    plan = {"Node Type": "Limit", "Plan Rows": 50, "Plans": [
        {"Node Type": "Sort", "Plan Rows": 3000, "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "orders", "Plan Rows": 3000}]}]}
    assert rows_read(plan) == {"orders": 50}
    aggregate = {"Node Type": "Aggregate", "Plan Rows": 1, "Plans": [
        {"Node Type": "Bitmap Heap Scan", "Relation Name": "orders", "Plan Rows": 500}]}
    assert rows_read(aggregate) == {"orders": 500}
