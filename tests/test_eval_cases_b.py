"""Eval cases select-needed-columns, not-in-nulls, disk-sort, misestimate-correlated,
unsafe-migration and drop-duplicate-index: each is prepared once into a workspace on the test
run's server; the untouched project must fail its checks, a correct hand-written fix must pass
them, and representative wrong fixes must fail. Files are restored between variants."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import STATE_DIR, clean, prepare

# ---- helpers ------------------------------------------------------------------------------------


class Workspace:
    def __init__(self, case_id: str, path: Path):
        self.case_id = case_id
        self.path = path
        self.project = load_case(case_id).project_dir

    def restore(self) -> None:
        """Put the project back exactly as prepared (the state folder stays)."""
        for child in self.path.iterdir():
            if child.name == STATE_DIR:
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(self.project, self.path, dirs_exist_ok=True)

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip())

    def replace(self, relative: str, old: str, new: str) -> None:
        target = self.path / relative
        source = target.read_text()
        assert source.count(old) == 1, f"{old!r} not found once in {relative}"
        target.write_text(source.replace(old, new))

    def delete(self, relative: str) -> None:
        (self.path / relative).unlink()

    def check(self):
        result = check_workspace(self.case_id, self.path)
        return result, {c.name: c for c in result.checks}


@pytest.fixture(scope="module")
def workspaces(pg_server, tmp_path_factory):
    prepared: dict[str, Workspace] = {}

    def get(case_id: str) -> Workspace:
        if case_id not in prepared:
            path = tmp_path_factory.mktemp(case_id)
            prepare(case_id, path, server_url=pg_server.url())
            prepared[case_id] = Workspace(case_id, path)
        ws = prepared[case_id]
        ws.restore()
        return ws

    yield get
    for ws in prepared.values():
        clean(ws.path)


def explain(result) -> str:
    return "\n".join(f"{'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in result.checks)


SAFE_ATTRS = """
  @disable_ddl_transaction true
  @disable_migration_lock true
"""


# ---- drop-duplicate-index -----------------------------------------------------------------------

DDI = "drop-duplicate-index"
DDI_MIGRATION = "priv/repo/migrations/20240610090000_drop_redundant_orders_indexes.exs"


def _ddi_migration(body: str, safe: bool = True) -> str:
    attrs = SAFE_ATTRS if safe else ""
    return (f"defmodule Orderly.Repo.Migrations.DropRedundantOrdersIndexes do\n  use Ecto.Migration\n"
            f"{attrs}\n  def change do\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n  end\nend\n")


def test_drop_duplicate_index_untouched_fails(workspaces):
    ws = workspaces(DDI)
    result, checks = ws.check()
    assert not result.passed
    assert not checks["the redundant orders_customer_id_index is dropped safely"].passed
    assert checks["nothing else changed"].passed


def test_drop_duplicate_index_correct_fix_passes(workspaces):
    ws = workspaces(DDI)
    ws.write(DDI_MIGRATION, _ddi_migration("""
        drop index(:orders, [:customer_id], concurrently: true)
        drop index(:orders, [:legacy_ref], concurrently: true)
    """))
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("body, safe, broken", [
    # Not concurrently: DROP INDEX takes an ACCESS EXCLUSIVE lock on orders.
    ("drop index(:orders, [:customer_id])", False, "the redundant orders_customer_id_index is dropped safely"),
    # The wrong one of the pair: the composite index serves both queries, the prefix does not.
    ("drop index(:orders, [:customer_id, :status], concurrently: true)", True, "orders(customer_id, status) stays"),
    # "Unused" by idx_scan, but it is the uniqueness of order numbers.
    ("drop index(:orders, [:customer_id], concurrently: true)\ndrop index(:orders, [:number], concurrently: true)",
     True, "the unique index on orders.number stays"),
])
def test_drop_duplicate_index_wrong_fixes_fail(workspaces, body, safe, broken):
    ws = workspaces(DDI)
    ws.write(DDI_MIGRATION, _ddi_migration(body, safe))
    result, checks = ws.check()
    assert not result.passed
    assert not checks[broken].passed, explain(result)


# ---- unsafe-migration ---------------------------------------------------------------------------

UM = "unsafe-migration"
UM_DIR = "priv/repo/migrations"
UM_COUPON = f"{UM_DIR}/20240612091600_add_coupon_to_orders.exs"
UM_CUSTOMER = f"{UM_DIR}/20240612093000_add_orders_customer_id_index.exs"


def _um_migration(module: str, body: str, safe: bool = False) -> str:
    attrs = SAFE_ATTRS if safe else ""
    return (f"defmodule Bazaar.Repo.Migrations.{module} do\n  use Ecto.Migration\n{attrs}\n"
            f"  def change do\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n  end\nend\n")


FK_NOT_VALID = """
    alter table(:orders) do
      add :coupon_id, references(:coupons, on_delete: :nilify_all, validate: false)
    end
"""
VALIDATE_FK = 'execute "ALTER TABLE orders VALIDATE CONSTRAINT orders_coupon_id_fkey", ""'


def _um_safe_indexes(ws: Workspace) -> None:
    ws.write(UM_CUSTOMER, _um_migration("AddOrdersCustomerIdIndex",
                                        "create index(:orders, [:customer_id], concurrently: true)", safe=True))
    ws.write(f"{UM_DIR}/20240612091800_add_orders_coupon_id_index.exs",
             _um_migration("AddOrdersCouponIdIndex", "create index(:orders, [:coupon_id], concurrently: true)",
                           safe=True))


def test_unsafe_migration_untouched_fails(workspaces):
    ws = workspaces(UM)
    result, checks = ws.check()
    assert not result.passed
    assert not checks["no pending migration takes a blocking lock on orders"].passed
    assert checks["nothing else changed"].passed


def test_unsafe_migration_split_in_place_passes(workspaces):
    ws = workspaces(UM)
    ws.write(UM_COUPON, _um_migration("AddCouponToOrders", FK_NOT_VALID))
    ws.write(f"{UM_DIR}/20240612091700_validate_orders_coupon_id_fkey.exs",
             _um_migration("ValidateOrdersCouponIdFkey", VALIDATE_FK))
    _um_safe_indexes(ws)
    result, _ = ws.check()
    assert result.passed, explain(result)


def test_unsafe_migration_replaced_by_new_files_passes(workspaces):
    ws = workspaces(UM)
    ws.delete(UM_COUPON)
    ws.delete(UM_CUSTOMER)
    ws.write(f"{UM_DIR}/20240613100000_add_coupon_to_orders.exs", _um_migration("AddCouponToOrders", FK_NOT_VALID))
    ws.write(f"{UM_DIR}/20240613100100_validate_orders_coupon_id_fkey.exs",
             _um_migration("ValidateOrdersCouponIdFkey", VALIDATE_FK))
    ws.write(f"{UM_DIR}/20240613100200_add_orders_coupon_id_index.exs",
             _um_migration("AddOrdersCouponIdIndex", "create index(:orders, [:coupon_id], concurrently: true)", True))
    ws.write(f"{UM_DIR}/20240613100300_add_orders_customer_id_index.exs",
             _um_migration("AddOrdersCustomerIdIndex", "create index(:orders, [:customer_id], concurrently: true)",
                           True))
    result, _ = ws.check()
    assert result.passed, explain(result)


def test_unsafe_migration_concurrently_without_attributes_fails(workspaces):
    ws = workspaces(UM)
    ws.replace(UM_COUPON, "create index(:orders, [:coupon_id])", "create index(:orders, [:coupon_id], concurrently: true)")
    ws.replace(UM_CUSTOMER, "create index(:orders, [:customer_id])",
               "create index(:orders, [:customer_id], concurrently: true)")
    result, checks = ws.check()
    assert not result.passed
    assert not checks["no pending migration takes a blocking lock on orders"].passed, explain(result)


def test_unsafe_migration_foreign_key_never_validated_fails(workspaces):
    ws = workspaces(UM)
    ws.write(UM_COUPON, _um_migration("AddCouponToOrders", FK_NOT_VALID))
    _um_safe_indexes(ws)
    result, checks = ws.check()
    assert not result.passed
    assert checks["no pending migration takes a blocking lock on orders"].passed, explain(result)
    assert not checks["orders.coupon_id references coupons, validated"].passed, explain(result)


def test_unsafe_migration_validate_in_same_migration_fails(workspaces):
    ws = workspaces(UM)
    ws.write(UM_COUPON, _um_migration("AddCouponToOrders", FK_NOT_VALID + "\n" + VALIDATE_FK))
    _um_safe_indexes(ws)
    result, checks = ws.check()
    assert not result.passed
    assert not checks["no pending migration takes a blocking lock on orders"].passed, explain(result)


def test_unsafe_migration_dropping_the_index_fails(workspaces):
    ws = workspaces(UM)
    ws.write(UM_COUPON, _um_migration("AddCouponToOrders", FK_NOT_VALID))
    ws.write(f"{UM_DIR}/20240612091700_validate_orders_coupon_id_fkey.exs",
             _um_migration("ValidateOrdersCouponIdFkey", VALIDATE_FK))
    ws.delete(UM_CUSTOMER)
    result, checks = ws.check()
    assert not result.passed
    assert not checks["orders(customer_id) is indexed and valid"].passed, explain(result)


# ---- select-needed-columns ----------------------------------------------------------------------

SNC = "select-needed-columns"
SNC_CONTEXT = "lib/newsroom/publishing.ex"
SNC_QUERY = """\
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at]
    )
    |> Repo.all()"""
SNC_SHAPE = "the list query selects only what the page shows"


def test_select_needed_columns_untouched_fails(workspaces):
    ws = workspaces(SNC)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[SNC_SHAPE].passed
    assert checks["nothing else changed"].passed


@pytest.mark.parametrize("new_query", [
    # select: with a field list (the result is still %Article{} structs)
    """\
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at],
      select: [:id, :title, :slug, :byline, :summary, :reading_minutes, :published_at]
    )
    |> Repo.all()""",
    # select/3 in a pipe with map/2
    """\
    Article
    |> where([a], a.section_id == ^section_id and not is_nil(a.published_at))
    |> order_by([a], desc: a.published_at)
    |> select([a], map(a, [:id, :title, :slug, :byline, :summary, :reading_minutes, :published_at]))
    |> Repo.all()""",
    # a private helper and a module attribute written with ~w()a
    """\
    section_id |> archive_query() |> Repo.all()
  end

  @archive_fields ~w(id title slug byline summary reading_minutes published_at)a

  defp archive_query(section_id) do
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at],
      select: struct(a, @archive_fields)
    )""",
])
def test_select_needed_columns_correct_fixes_pass(workspaces, new_query):
    ws = workspaces(SNC)
    ws.replace(SNC_CONTEXT, SNC_QUERY, new_query)
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("new_query", [
    # still selects the body
    """\
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at],
      select: %{id: a.id, title: a.title, slug: a.slug, byline: a.byline, summary: a.summary,
                reading_minutes: a.reading_minutes, published_at: a.published_at, body: a.body}
    )
    |> Repo.all()""",
    # pagination: fewer rows, full structs, and the archive loses articles
    """\
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at],
      limit: 100
    )
    |> Repo.all()""",
    # drops a field the page shows
    """\
    from(a in Article,
      where: a.section_id == ^section_id and not is_nil(a.published_at),
      order_by: [desc: a.published_at],
      select: [:id, :title, :slug, :byline, :published_at]
    )
    |> Repo.all()""",
])
def test_select_needed_columns_wrong_fixes_fail(workspaces, new_query):
    ws = workspaces(SNC)
    ws.replace(SNC_CONTEXT, SNC_QUERY, new_query)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[SNC_SHAPE].passed, explain(result)


def test_select_needed_columns_schema_level_fix_fails(workspaces):
    # load_in_query: false drops the body from every Article query, the article page included.
    ws = workspaces(SNC)
    ws.replace("lib/newsroom/publishing/article.ex", "field :body, :string", "field :body, :string, load_in_query: false")
    result, checks = ws.check()
    assert not result.passed
    assert not checks["nothing else changed"].passed
    assert not checks[SNC_SHAPE].passed


# ---- not-in-nulls -------------------------------------------------------------------------------

NIN = "not-in-nulls"
NIN_CONTEXT = "lib/mercato/marketing.ex"
NIN_QUERY = """\
    from(c in Customer,
      where: c.inserted_at >= ^since and c.id not in subquery(from o in Order, select: o.customer_id),
      where: c.marketing_opt_in,"""
NIN_SHAPE = "the audience query is an anti-join, not NOT IN"


def test_not_in_nulls_untouched_fails(workspaces):
    ws = workspaces(NIN)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[NIN_SHAPE].passed
    assert checks["nothing else changed"].passed


@pytest.mark.parametrize("new_query", [
    """\
    from(c in Customer,
      as: :customer,
      where: c.inserted_at >= ^since,
      where: not exists(from o in Order, where: o.customer_id == parent_as(:customer).id),
      where: c.marketing_opt_in,""",
    """\
    from(c in Customer,
      left_join: o in Order,
      on: o.customer_id == c.id,
      where: c.inserted_at >= ^since and is_nil(o.id),
      where: c.marketing_opt_in,""",
    """\
    from(c in Customer,
      where: c.inserted_at >= ^since,
      where: fragment("NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.customer_id = ?)", c.id),
      where: c.marketing_opt_in,""",
])
def test_not_in_nulls_correct_fixes_pass(workspaces, new_query):
    ws = workspaces(NIN)
    ws.replace(NIN_CONTEXT, NIN_QUERY, new_query)
    result, _ = ws.check()
    assert result.passed, explain(result)


def test_not_in_nulls_pipe_left_join_passes(workspaces):
    ws = workspaces(NIN)
    ws.replace(NIN_CONTEXT, """\
    from(c in Customer,
      where: c.inserted_at >= ^since and c.id not in subquery(from o in Order, select: o.customer_id),
      where: c.marketing_opt_in,
      order_by: c.inserted_at,
      select: %{id: c.id, name: c.name, email: c.email, signed_up_at: c.inserted_at}
    )
    |> Repo.all()""", """\
    Customer
    |> join(:left, [c], o in assoc(c, :orders))
    |> where([c, o], c.inserted_at >= ^since and c.marketing_opt_in and is_nil(o.id))
    |> order_by([c], c.inserted_at)
    |> select([c], %{id: c.id, name: c.name, email: c.email, signed_up_at: c.inserted_at})
    |> Repo.all()""")
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("new_query, broken", [
    # Right answer, but still NOT IN: no anti-join, a (hashed or per-row) subplan over all orders.
    ("""\
    from(c in Customer,
      where: c.inserted_at >= ^since and
             c.id not in subquery(from o in Order, where: not is_nil(o.customer_id), select: o.customer_id),
      where: c.marketing_opt_in,""", NIN_SHAPE),
    # The same NOT IN written as not(... in ...)
    ("""\
    from(c in Customer,
      as: :customer,
      where: c.inserted_at >= ^since and not (c.id in subquery(from o in Order, select: o.customer_id)),
      where: exists(from o in Order, where: o.customer_id == parent_as(:customer).id) or true,
      where: c.marketing_opt_in,""", NIN_SHAPE),
    # NOT IN again, in SQL
    ("""\
    from(c in Customer,
      where: c.inserted_at >= ^since,
      where: fragment("? NOT IN (SELECT customer_id FROM orders WHERE customer_id IS NOT NULL)", c.id),
      where: c.marketing_opt_in,""", NIN_SHAPE),
    # NOT EXISTS, but the audience lost its opt-in filter
    ("""\
    from(c in Customer,
      as: :customer,
      where: c.inserted_at >= ^since,
      where: not exists(from o in Order, where: o.customer_id == parent_as(:customer).id),""",
     "the audience keeps its filters"),
])
def test_not_in_nulls_wrong_fixes_fail(workspaces, new_query, broken):
    ws = workspaces(NIN)
    ws.replace(NIN_CONTEXT, NIN_QUERY, new_query)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[broken].passed, explain(result)


# ---- disk-sort ----------------------------------------------------------------------------------

DS = "disk-sort"
DS_CONTEXT = "lib/ledger/accounting.ex"
DS_QUERY = """\
    from(e in Entry,
      where: e.posted_at >= ^from and e.posted_at < ^to,
      order_by: [asc: e.posted_at, asc: e.id]
    )
    |> Repo.all()"""
DS_SORT = "the export no longer sorts on disk"
DS_INDEX_MIGRATION = "priv/repo/migrations/20240702080000_add_entries_posted_at_index.exs"


def _ds_index(columns: str, safe: bool = True) -> str:
    opts = ", concurrently: true" if safe else ""
    attrs = SAFE_ATTRS if safe else ""
    return (f"defmodule Ledger.Repo.Migrations.AddEntriesPostedAtIndex do\n  use Ecto.Migration\n{attrs}\n"
            f"  def change do\n    create index(:entries, {columns}{opts})\n  end\nend\n")


def test_disk_sort_untouched_fails(workspaces):
    ws = workspaces(DS)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[DS_SORT].passed
    assert "spills to disk" in checks[DS_SORT].detail
    assert checks["new migrations, if any, take no blocking lock"].passed


@pytest.mark.parametrize("path, old, new", [
    ("config/runtime.exs", 'pool_size: String.to_integer(System.get_env("POOL_SIZE") || "20")',
     'pool_size: String.to_integer(System.get_env("POOL_SIZE") || "20"),\n    parameters: [work_mem: "64MB"]'),
    ("config/config.exs", "config :ledger, ecto_repos: [Ledger.Repo]",
     'config :ledger, ecto_repos: [Ledger.Repo]\n\nconfig :ledger, Ledger.Repo, parameters: [work_mem: "64MB"]'),
    (DS_CONTEXT, DS_QUERY, """\
    {:ok, entries} =
      Repo.transaction(fn ->
        Repo.query!("SET LOCAL work_mem = '64MB'")

        from(e in Entry,
          where: e.posted_at >= ^from and e.posted_at < ^to,
          order_by: [asc: e.posted_at, asc: e.id]
        )
        |> Repo.all()
      end)

    entries"""),
])
def test_disk_sort_more_work_mem_passes(workspaces, path, old, new):
    ws = workspaces(DS)
    ws.replace(path, old, new)
    result, _ = ws.check()
    assert result.passed, explain(result)


def test_disk_sort_ordering_index_passes(workspaces):
    ws = workspaces(DS)
    ws.write(DS_INDEX_MIGRATION, _ds_index("[:posted_at, :id]"))
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("path, old, new, broken", [
    # too little: the sort still spills
    ("config/config.exs", "config :ledger, ecto_repos: [Ledger.Repo]",
     'config :ledger, ecto_repos: [Ledger.Repo]\n\nconfig :ledger, Ledger.Repo, parameters: [work_mem: "8MB"]', DS_SORT),
    # only in dev: production never sees it
    ("config/dev.exs", "  pool_size: 10", '  pool_size: 10,\n  parameters: [work_mem: "64MB"]', DS_SORT),
    # a session-wide SET outlives the request on a pooled connection
    (DS_CONTEXT, DS_QUERY, """\
    Repo.query!("SET work_mem = '64MB'")

    from(e in Entry,
      where: e.posted_at >= ^from and e.posted_at < ^to,
      order_by: [asc: e.posted_at, asc: e.id]
    )
    |> Repo.all()""", DS_SORT),
])
def test_disk_sort_wrong_settings_fail(workspaces, path, old, new, broken):
    ws = workspaces(DS)
    ws.replace(path, old, new)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[broken].passed, explain(result)


@pytest.mark.parametrize("migration, broken", [
    (_ds_index("[:posted_at, :id]", safe=False), "new migrations, if any, take no blocking lock"),
    (_ds_index("[:account_id]"), DS_SORT),
])
def test_disk_sort_wrong_indexes_fail(workspaces, migration, broken):
    ws = workspaces(DS)
    ws.write(DS_INDEX_MIGRATION, migration)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[broken].passed, explain(result)


# ---- misestimate-correlated ---------------------------------------------------------------------

MC = "misestimate-correlated"
MC_MIGRATION = "priv/repo/migrations/20240604120000_add_addresses_city_zip_statistics.exs"
MC_ESTIMATE = "the planner estimates the area's addresses within 10x"


def _mc_migration(body: str, safe: bool = False) -> str:
    attrs = SAFE_ATTRS if safe else ""
    return (f"defmodule Dispatch.Repo.Migrations.AddAddressesCityZipStatistics do\n  use Ecto.Migration\n{attrs}\n"
            f"{textwrap.indent(textwrap.dedent(body).strip(), '  ')}\nend\n")


def test_misestimate_correlated_untouched_fails(workspaces):
    ws = workspaces(MC)
    result, checks = ws.check()
    assert not result.passed
    assert not checks[MC_ESTIMATE].passed


@pytest.mark.parametrize("body", [
    """
    def change do
      execute "CREATE STATISTICS addresses_city_zip_stats (dependencies) ON city, zip FROM addresses",
              "DROP STATISTICS addresses_city_zip_stats"
    end
    """,
    """
    def up do
      execute "CREATE STATISTICS IF NOT EXISTS addresses_city_zip (dependencies, mcv) ON city, zip FROM addresses"
      execute "ANALYZE addresses"
    end

    def down do
      execute "DROP STATISTICS IF EXISTS addresses_city_zip"
    end
    """,
])
def test_misestimate_correlated_extended_statistics_pass(workspaces, body):
    ws = workspaces(MC)
    ws.write(MC_MIGRATION, _mc_migration(body))
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("body, safe", [
    # an index on both columns: btree statistics do not describe the combination
    ("""
    def change do
      create index(:addresses, [:city, :zip], concurrently: true)
    end
    """, True),
    # a bigger sample of each column is still multiplied
    ("""
    def up do
      execute "ALTER TABLE addresses ALTER COLUMN city SET STATISTICS 1000"
      execute "ALTER TABLE addresses ALTER COLUMN zip SET STATISTICS 1000"
    end

    def down do
      execute "ALTER TABLE addresses ALTER COLUMN city SET STATISTICS -1"
      execute "ALTER TABLE addresses ALTER COLUMN zip SET STATISTICS -1"
    end
    """, False),
    # n-distinct statistics help GROUP BY estimates, not WHERE a = x AND b = y
    ("""
    def change do
      execute "CREATE STATISTICS addresses_city_zip_stats (ndistinct) ON city, zip FROM addresses",
              "DROP STATISTICS addresses_city_zip_stats"
    end
    """, False),
])
def test_misestimate_correlated_wrong_fixes_fail(workspaces, body, safe):
    ws = workspaces(MC)
    ws.write(MC_MIGRATION, _mc_migration(body, safe))
    result, checks = ws.check()
    assert not result.passed
    assert not checks[MC_ESTIMATE].passed, explain(result)
