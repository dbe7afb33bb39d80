"""The covering-index and workload trade-off eval cases: each is prepared for real, then judged
untouched (fails), with the correct fix (passes) and with plausible wrong fixes (fail). The
advisor's own migration for the covering case is judged too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import State, clean, prepare
from tools.indexes.advisor import AdviseOptions, QueryInput, advise
from tools.indexes.migrations import write_migrations

pytestmark = pytest.mark.db

HEADER = """defmodule {repo}.Migrations.{name} do
  use Ecto.Migration
{attrs}
  def {fun} do
{body}
  end
end
"""
CONCURRENT = "  @disable_ddl_transaction true\n  @disable_migration_lock true\n"


def migration(repo: str, name: str, body: str, *, concurrent: bool = True, fun: str = "change") -> str:
    return HEADER.format(repo=repo, name=name, attrs=CONCURRENT if concurrent else "", fun=fun,
                         body="\n".join(f"    {line}" for line in body.strip().splitlines()))


class Workspace:
    def __init__(self, case_id: str, root: Path, server_url: str) -> None:
        self.case = load_case(case_id)
        self.root = root
        self.state: State = prepare(case_id, root, server_url=server_url)

    def judge(self, files: dict[str, str]):
        """Write the files, run the case's checks, then put the workspace back as it was."""
        written = []
        for relative, text in files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
        try:
            return check_workspace(self.case.id, self.root)
        finally:
            for path in written:
                path.unlink()

    @staticmethod
    def failed(result) -> list[str]:
        return [c.name for c in result.checks if not c.passed]


@pytest.fixture(scope="module")
def covering(pg_server, tmp_path_factory):
    ws = Workspace("covering-index-balance", tmp_path_factory.mktemp("covering") / "ws", pg_server.url())
    yield ws
    clean(ws.root)
    shutil.rmtree(ws.root, ignore_errors=True)


@pytest.fixture(scope="module")
def tradeoff(pg_server, tmp_path_factory):
    ws = Workspace("index-budget-write-heavy", tmp_path_factory.mktemp("tradeoff") / "ws", pg_server.url())
    yield ws
    clean(ws.root)
    shutil.rmtree(ws.root, ignore_errors=True)


MIGRATIONS = "priv/repo/migrations"


# -- covering-index-balance ----------------------------------------------------------------------


def test_covering_case_untouched_fails(covering):
    result = covering.judge({})
    assert not result.passed
    assert "the balance query gets at least 10x cheaper" in covering.failed(result)


@pytest.mark.parametrize("body", [
    # Ecto's default name leaves INCLUDE out, and invoices_customer_id_index exists: it needs a name
    "create index(:invoices, [:customer_id], include: [:amount_cents],\n"
    "  name: :invoices_customer_id_include_amount_cents_index, concurrently: true)",
    "create index(:invoices, [:customer_id, :amount_cents], concurrently: true)",
])
def test_covering_case_correct_fixes_pass(covering, body):
    text = migration("Ledger.Repo", "AddInvoicesBalanceIndex", body)
    result = covering.judge({f"{MIGRATIONS}/20250301120000_add_invoices_balance_index.exs": text})
    assert result.passed, [(c.name, c.detail) for c in result.checks]


@pytest.mark.parametrize("files, failing", [
    # another plain index on the same column: the heap is still visited for every invoice
    ({"20250301120000_add_index.exs": migration(
        "Ledger.Repo", "AddIndex", "create index(:invoices, [:customer_id, :issued_on], concurrently: true)")},
     "the balance query gets at least 10x cheaper"),
    # the right index, built with a lock that blocks every insert meanwhile
    ({"20250301120000_add_index.exs": migration(
        "Ledger.Repo", "AddIndex", "create index(:invoices, [:customer_id], include: [:amount_cents])",
        concurrent=False)},
     "safe migration adding a covering index on invoices (customer_id) with amount_cents"),
    # the default name is taken by the existing index on customer_id: the migration fails
    ({"20250301120000_add_index.exs": migration(
        "Ledger.Repo", "AddIndex", "create index(:invoices, [:customer_id], include: [:amount_cents], "
        "concurrently: true)")},
     "the balance query gets at least 10x cheaper"),
    # concurrently, but inside the migration's transaction and lock: it never finishes in production
    ({"20250301120000_add_index.exs": migration(
        "Ledger.Repo", "AddIndex", "create index(:invoices, [:customer_id], include: [:amount_cents], "
        "concurrently: true)", concurrent=False)},
     "safe migration adding a covering index on invoices (customer_id) with amount_cents"),
])
def test_covering_case_wrong_fixes_fail(covering, files, failing):
    result = covering.judge({f"{MIGRATIONS}/{k}": v for k, v in files.items()})
    assert not result.passed
    assert failing in covering.failed(result)


def test_covering_case_is_solved_by_the_advisors_own_migration(covering):
    sql = 'SELECT coalesce(sum(i0."amount_cents"), 0) FROM "invoices" AS i0 WHERE (i0."customer_id" = $1)'
    advice = advise([QueryInput(sql, [1234], 100)], covering.state.database_url,
                    AdviseOptions(project=covering.root))
    (rec,) = advice.recommendations
    assert rec.index.include == ("amount_cents",) or rec.index.keys == ("customer_id", "amount_cents")
    assert rec.redundant == ["invoices_customer_id_index"]
    assert rec.ecto_migration.startswith("defmodule Ledger.Repo.Migrations.")
    if rec.index.include:
        assert rec.name == "invoices_customer_id_include_amount_cents_index"
        assert "name: :invoices_customer_id_include_amount_cents_index" in rec.ecto_migration
    out = covering.root.parent / "advisor-out"
    (path, _drop) = write_migrations(advice.migration_files(), out)
    try:
        result = covering.judge({f"{MIGRATIONS}/{path.name}": path.read_text()})
    finally:
        shutil.rmtree(out)
    assert result.passed, [(c.name, c.detail) for c in result.checks]


# -- index-budget-write-heavy --------------------------------------------------------------------

ADD = "create index(:shipments, [:carrier_id, :inserted_at], concurrently: true)"
DROP = "drop index(:shipments, [:carrier_id], concurrently: true)"


def test_tradeoff_case_untouched_fails(tradeoff):
    result = tradeoff.judge({})
    assert not result.passed
    assert "a mid-sized carrier's dashboard list gets at least 10x cheaper" in tradeoff.failed(result)


@pytest.mark.parametrize("files", [
    {"20250301120000_add_shipments_carrier_id_inserted_at_index.exs": ("AddShipmentsCarrierIdInsertedAtIndex", ADD),
     "20250301120100_drop_shipments_carrier_id_index.exs": ("DropShipmentsCarrierIdIndex", DROP)},
    {"20250301120000_replace_shipments_carrier_id_index.exs": ("ReplaceShipmentsCarrierIdIndex", ADD + "\n" + DROP)},
])
def test_tradeoff_case_correct_fixes_pass(tradeoff, files):
    result = tradeoff.judge({f"{MIGRATIONS}/{k}": migration("Dispatch.Repo", name, body)
                             for k, (name, body) in files.items()})
    assert result.passed, [(c.name, c.detail) for c in result.checks]


@pytest.mark.parametrize("files, failing", [
    # the right index, but one more on a table that cannot afford it
    ({"20250301120000_add.exs": ("Add", ADD)},
     "the index it makes redundant, shipments_carrier_id_index, is dropped safely"),
    # time first: the dashboard of a mid-sized carrier still reads most of the recent shipments
    ({"20250301120000_add.exs": ("Add", "create index(:shipments, [:inserted_at, :carrier_id], concurrently: true)\n"
                                        + DROP)},
     "safe migration adding shipments (carrier_id, inserted_at)"),
    # dropping the old index without the new one: the dashboard gets slower, not faster
    ({"20250301120000_drop.exs": ("Drop", DROP)}, "a mid-sized carrier's dashboard list gets at least 10x cheaper"),
    # one index per query: three indexes where there was one
    ({"20250301120000_add.exs": ("Add", "create index(:shipments, [:inserted_at], concurrently: true)\n"
                                        "create index(:shipments, [:destination_zip], concurrently: true)")},
     "safe migration adding shipments (carrier_id, inserted_at)"),
])
def test_tradeoff_case_wrong_fixes_fail(tradeoff, files, failing):
    result = tradeoff.judge({f"{MIGRATIONS}/{k}": migration("Dispatch.Repo", name, body)
                             for k, (name, body) in files.items()})
    assert not result.passed
    assert failing in tradeoff.failed(result)


def test_tradeoff_case_is_solved_by_the_advisors_migrations(tradeoff, tmp_path):
    """Given the case's workload with its write rate, the advisor proposes the composite, names the
    index it makes redundant and writes the migration dropping it; together they pass the case."""
    # The replayed workload is a sample; in the hour it stands for, the label API inserts about
    # ten million rows (3,000 a second).
    queries = [QueryInput(q.sql, q.params, 10_000_000 if q.sql.startswith("INSERT") else q.calls)
               for q in tradeoff.case.workload]
    advice = advise(queries, tradeoff.state.database_url, AdviseOptions(project=tradeoff.root))
    keys = [r.index.keys for r in advice.recommendations]
    assert keys == [("carrier_id", "inserted_at")]  # two zip lookups are not worth an index on every insert
    (rec,) = advice.recommendations
    assert rec.redundant == ["shipments_carrier_id_index"]
    ((_, drop),) = rec.drop_migrations
    assert drop.startswith("defmodule Dispatch.Repo.Migrations.DropShipmentsCarrierIdIndex do")
    paths = write_migrations(advice.migration_files(), tmp_path / "out")
    assert [p.name[15:] for p in paths] == ["create_shipments_carrier_id_inserted_at_index.exs",
                                           "drop_shipments_carrier_id_index.exs"]
    files = {f"{MIGRATIONS}/{p.name}": p.read_text() for p in paths}
    result = tradeoff.judge(files)
    assert result.passed, [(c.name, c.detail) for c in result.checks]
