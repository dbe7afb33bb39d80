"""Materialized-view advice against a real PostgreSQL: a repeated dashboard aggregation becomes
a view whose rows are proved equal to the original's, measured before and after inside a
rolled-back transaction, with a refresh schedule derived from what the query costs today."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from tools.ecto.elixir import parse as parse_elixir
from tools.errors import InputError
from tools.matviews.design import NotMaterializable, design
from tools.matviews.tool import MaterializedViewAdvice, MatviewOptions, materialized_view_advice
from tools.rewrites.sql import parse_select

pytestmark = pytest.mark.db

PANEL = ('SELECT date_trunc(\'day\', o0."inserted_at"), count(o0."id"), sum(o0."total_cents") FROM "orders" AS o0 '
         'WHERE (o0."status" = $1) GROUP BY date_trunc(\'day\', o0."inserted_at") '
         'ORDER BY date_trunc(\'day\', o0."inserted_at") DESC LIMIT $2')


@pytest.fixture(scope="module")
def db(pg_server):
    name = "mv_" + uuid.uuid4().hex[:8]
    url = pg_server.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE orders (id bigserial PRIMARY KEY, status varchar(255) NOT NULL, total_cents integer NOT NULL,
                                 inserted_at timestamp(0) NOT NULL);
            INSERT INTO orders (status, total_cents, inserted_at)
            SELECT CASE WHEN g % 10 = 0 THEN 'refunded' ELSE 'paid' END, 100 + g % 9000,
                   timestamp '2024-01-01' + g * interval '2 minutes'
            FROM generate_series(1, 120000) g;
            ANALYZE;""")
        with psycopg.RawCursor(conn) as cur:
            for _ in range(12):
                cur.execute(PANEL, ["paid", 30])
    yield url
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_dashboard_aggregation_becomes_a_view(db):
    report = materialized_view_advice(db, MatviewOptions(sql=PANEL, params='["paid", 30]', measure=True, app="Shop"))
    (p,) = report.proposals
    assert p.view == "orders_by_day_status" and p.keys == ["day", "status"]
    assert p.lifted == ["o0.status = $1"]
    assert p.app_sql == ("SELECT v.day, v.count_id, v.sum_total_cents FROM orders_by_day_status AS v "
                         "WHERE v.status = $1 ORDER BY v.day DESC LIMIT $2")
    v = p.verification
    assert v.same_rows is True
    assert v.before_ms and v.after_ms and v.speedup > 10
    assert v.refresh_ms and v.concurrent_refresh_ms
    assert any("rolled back" in h for h in v.how)
    # Its history from pg_stat_statements, matched up to constants.
    assert p.calls == 12 and p.rows_per_call == 30
    assert p.interval_minutes in (1, 5, 10, 15, 30, 60) and f"up to {p.interval_minutes} min old" in p.staleness
    for code in (p.migration, p.ecto_schema, p.app_query, p.refresh):
        parse_elixir(code)
    assert "create unique_index(:orders_by_day_status, [:day, :status])" in p.migration
    assert "field :sum_total_cents, :integer" in p.ecto_schema and "@primary_key false" in p.ecto_schema
    assert "REFRESH MATERIALIZED VIEW CONCURRENTLY orders_by_day_status" in p.refresh
    assert "where: o.status == ^status" in p.app_query
    # Nothing was left behind by the measurement.
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_matviews").fetchone()[0] == 0


def test_without_measure_nothing_is_built_and_after_is_unknown(db):
    (p,) = materialized_view_advice(db, MatviewOptions(sql=PANEL, params='["paid", 30]')).proposals
    assert p.verification.same_rows is True and p.verification.after_ms is None


def test_pg_stat_statements_candidates_need_the_logged_sql(db):
    """pg_stat_statements turns 'day' into $n: the candidate is found, and the tool asks for the SQL
    as the app sends it rather than guessing."""
    report = materialized_view_advice(db, MatviewOptions(min_total_ms=0, min_calls=5))
    (skipped,) = [s for s in report.skipped if "orders" in s.query]
    assert "pass the query as the app sends it" in skipped.reason and "12 calls" in skipped.reason


def test_designs():
    d = design(parse_select("SELECT p1.category, date_trunc('day', o0.inserted_at), sum(o0.total_cents) "
                            "FROM orders o0 JOIN products p1 ON p1.id = o0.product_id "
                            "WHERE o0.inserted_at >= $1 AND o0.status = 'paid' GROUP BY 1, 2 ORDER BY 2 DESC"))
    assert d.keys == ["category", "day"] and not d.exact and "WHERE o0.status = 'paid'" in d.view_sql
    assert d.app_sql.endswith("WHERE v.day >= $1 ORDER BY v.day DESC")
    d = design(parse_select("SELECT count(*) FROM orders o0 WHERE o0.status = 'paid'"))
    assert d.keys == ["singleton"] and "TRUE AS singleton" in d.view_sql
    for sql, reason in [("SELECT o0.id FROM orders o0", "does not aggregate"),
                        ("SELECT date_trunc($1, o0.inserted_at), count(*) FROM orders o0 GROUP BY 1", "outside WHERE"),
                        ("SELECT o0.status, count(*) FROM orders o0 WHERE o0.total_cents > $1 GROUP BY 1",
                         "changes with each call")]:
        with pytest.raises(NotMaterializable, match=reason):
            design(parse_select(sql))


def test_bad_input_is_one_clear_line(db):
    for options, message in [(MatviewOptions(sql="UPDATE orders SET status = 'x'"), "built from a SELECT"),
                             (MatviewOptions(sql="SELECT FROM WHERE"), "cannot parse the SQL")]:
        with pytest.raises(InputError) as exc:
            materialized_view_advice(db, options)
        assert message in str(exc.value) and "\n" not in str(exc.value)


def test_agent_tool_measures_only_when_writes_are_allowed(db, tmp_path):
    from tools.base import ToolContext

    out = MaterializedViewAdvice().run({"sql": PANEL, "params": ["paid", 30], "measure": True},
                                       ToolContext(tmp_path, database_url=db))
    assert "does not allow database writes" in out and "after" not in out.split("same rows:")[1].split("\n")[0]
    out = json.loads(MaterializedViewAdvice().run({"sql": PANEL, "params": ["paid", 30], "measure": True,
                                                   "format": "json"},
                                                  ToolContext(tmp_path, database_url=db, allow_writes_to_database=True)))
    assert out["proposals"][0]["verification"]["after_ms"] is not None


def test_cli(db):
    import typer

    from agent.cli_beyond import register

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["matviews", "--database-url", db, "--sql", PANEL.replace("$1", "'paid'")
                                      .replace("$2", "30"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["proposals"][0]["view"] == "orders_by_day"
