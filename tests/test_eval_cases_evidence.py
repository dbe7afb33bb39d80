"""The eval case slow-query-pg-stat-statements, judged end to end.

The project has no query log and its task names no query: only pg_stat_statements, filled by
the workload at prepare time, tells which of the code's unindexed lookups costs the database
most. The untouched project must fail; the right index (in any of its correct shapes) must pass;
an index for one of the other, rarely run queries, or the right one built unsafely, must fail.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import STATE_DIR, clean, prepare
from tools.logs.stats import top_queries

pytestmark = pytest.mark.db

CASE = "slow-query-pg-stat-statements"
HOT = ('SELECT s0."id", s0."tracking_number", s0."status", s0."destination_zip", s0."carrier_id", s0."inserted_at", '
       's0."updated_at" FROM "shipments" AS s0 WHERE ((s0."carrier_id" = $1) AND (s0."tracking_number" = $2))')
SAFE = "@disable_ddl_transaction true\n  @disable_migration_lock true\n"


@pytest.fixture(scope="module")
def workspace(pg_server, tmp_path_factory):
    path = tmp_path_factory.mktemp(CASE)
    state = prepare(CASE, path, server_url=pg_server.url())
    try:
        yield path, state
    finally:
        clean(path)


@pytest.fixture
def ws(workspace):
    path, state = workspace
    for child in path.iterdir():
        if child.name != STATE_DIR:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    shutil.copytree(load_case(CASE).project_dir, path, dirs_exist_ok=True)
    return path, state


def migration(path: Path, name: str, body: str, attributes: str = SAFE) -> None:
    module = "".join(part.capitalize() for part in name.split("_"))
    (path / "priv" / "repo" / "migrations" / f"20250301120000_{name}.exs").write_text(
        f"defmodule Parcel.Repo.Migrations.{module} do\n  use Ecto.Migration\n  {attributes}\n"
        f"  def change do\n    {textwrap.dedent(body).strip()}\n  end\nend\n")


def failing(path: Path) -> set[str]:
    result = check_workspace(CASE, path)
    return {c.name for c in result.checks if not c.passed}


INDEX_CHECK = "a safe index that finds a shipment by its tracking number"
IMPROVES = "the webhook's shipment lookup gets at least 10x cheaper"


def test_the_evidence_is_only_in_pg_stat_statements(ws):
    path, state = ws
    assert not (path / "log").exists()
    assert HOT not in load_case(CASE).task and "tracking" not in load_case(CASE).task
    report = top_queries(state.database_url, keep_snapshot=False)
    top = report.queries[0]
    assert top.query == HOT and top.calls == 300 and top.share > 0.5
    # Ranked by mean, the rare dashboard queries come first: total time is what points at the cause.
    by_mean = top_queries(state.database_url, order_by="mean", keep_snapshot=False)
    assert by_mean.queries[0].query != HOT


def test_untouched_fails(ws):
    path, _ = ws
    assert failing(path) == {INDEX_CHECK, IMPROVES}


@pytest.mark.parametrize("index", [
    "create index(:shipments, [:tracking_number], concurrently: true)",
    "create unique_index(:shipments, [:carrier_id, :tracking_number], concurrently: true)",
    "create index(:shipments, [:tracking_number, :carrier_id], concurrently: true)",
])
def test_the_right_index_passes(ws, index):
    path, _ = ws
    migration(path, "add_shipments_tracking_number_index", index)
    assert failing(path) == set()


@pytest.mark.parametrize("index, attributes, expected", [
    # the dashboard's counter: slowest per call, but it runs a handful of times
    ("create index(:shipments, [:status], concurrently: true)", SAFE, {INDEX_CHECK, IMPROVES}),
    # support's ZIP search
    ("create index(:shipments, [:destination_zip], concurrently: true)", SAFE, {INDEX_CHECK, IMPROVES}),
    # the right columns, built under a lock that blocks the webhook's writes
    ("create index(:shipments, [:tracking_number])", "", {INDEX_CHECK}),
    # concurrently, but inside the migration's transaction: PostgreSQL refuses to run it at all
    ("create index(:shipments, [:tracking_number], concurrently: true)", "@disable_migration_lock true\n",
     {INDEX_CHECK, IMPROVES}),
])
def test_wrong_fixes_fail(ws, index, attributes, expected):
    path, _ = ws
    migration(path, "add_an_index", index, attributes)
    assert failing(path) == expected


def test_changing_the_code_instead_fails(ws):
    path, _ = ws
    context = path / "lib" / "parcel" / "shipping.ex"
    context.write_text(context.read_text().replace("Repo.get_by(Shipment, carrier_id: carrier_id, tracking_number: "
                                                   "tracking_number)", "Repo.get_by(Shipment, tracking_number: "
                                                                       "tracking_number)"))
    assert failing(path) == {INDEX_CHECK, IMPROVES, "nothing else changed"}
