"""The eval cases n-plus-one-repo-get, n-plus-one-preload-for, composite-index-order,
partial-index-soft-delete, expression-index-lower-email and offset-to-keyset, judged end to end.

Each case is prepared once (per test class) into a workspace on the test run's server. The
untouched project must fail its checks; hand-written correct fixes must pass them; representative
wrong fixes must fail, and for the reason we expect. Between variants the workspace's files are
put back as prepared: the checks compare against the fingerprints taken at prepare time and
rebuild their scratch database from the pristine template on every run.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import STATE_DIR, clean, prepare

pytestmark = pytest.mark.db


class Workspace:
    def __init__(self, case_id: str, path: Path) -> None:
        self.case_id = case_id
        self.path = path
        self.pristine = load_case(case_id).project_dir

    def reset(self) -> None:
        for child in self.path.iterdir():
            if child.name != STATE_DIR:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(self.pristine, self.path, dirs_exist_ok=True)

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip("\n"))

    def replace(self, relative: str, old: str, new: str) -> None:
        """Replace a block of code, both given at any indentation: the new block takes the old one's."""
        target = self.path / relative
        source = target.read_text()
        old, new = textwrap.dedent(old).strip("\n"), textwrap.dedent(new).strip("\n")
        for prefix in ("", "  ", "    ", "      "):
            if source.count(textwrap.indent(old, prefix)) == 1:
                target.write_text(source.replace(textwrap.indent(old, prefix), textwrap.indent(new, prefix)))
                return
        raise AssertionError(f"the text to replace is not in {relative} exactly once")

    def failing(self) -> set[str]:
        """Names of the failing checks (empty when the case passes)."""
        result = check_workspace(self.case_id, self.path)
        report = "\n".join(f"{'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in result.checks)
        failed = {c.name for c in result.checks if not c.passed}
        assert result.passed == (not failed), report
        self.last_report = report
        return failed


@pytest.fixture(scope="class")
def case_workspace(request, pg_server, tmp_path_factory):
    """The class's case (its `case_id`), prepared once for all its tests."""
    case_id = request.cls.case_id
    path = tmp_path_factory.mktemp(case_id)
    prepare(case_id, path, server_url=pg_server.url())
    try:
        yield Workspace(case_id, path)
    finally:
        clean(path)


@pytest.fixture
def ws(case_workspace):
    case_workspace.reset()
    yield case_workspace


SAFE = "every new migration is safe to run in production"


def concurrent_migration(module: str, body: str) -> str:
    return f"""
    defmodule {module} do
      use Ecto.Migration
      @disable_ddl_transaction true
      @disable_migration_lock true

      def change do
        {body}
      end
    end
    """


def plain_migration(module: str, body: str) -> str:
    return f"""
    defmodule {module} do
      use Ecto.Migration

      def change do
        {body}
      end
    end
    """


# ---- n-plus-one-repo-get ------------------------------------------------------------------------

ORDERS = "lib/shop/orders.ex"
ORDERS_LOOP = """
  def list_recent_orders(store_id) do
    orders =
      from(o in Order,
        where: o.store_id == ^store_id,
        order_by: [desc: o.inserted_at],
        limit: @page_size
      )
      |> Repo.all()

    Enum.map(orders, fn order ->
      %{order | customer: Repo.get!(Customer, order.customer_id)}
    end)
  end
"""


class TestNPlusOneRepoGet:
    case_id = "n-plus-one-repo-get"

    def test_untouched_fails(self, ws):
        assert ws.failing() == {"no query per order", "customers loaded for the whole page at once"}

    @pytest.mark.parametrize("fix", [
        """
        def list_recent_orders(store_id) do
          from(o in Order,
            where: o.store_id == ^store_id,
            order_by: [desc: o.inserted_at],
            limit: @page_size,
            preload: :customer
          )
          |> Repo.all()
        end
        """,
        """
        def list_recent_orders(store_id) do
          from(o in Order,
            where: o.store_id == ^store_id,
            order_by: [desc: o.inserted_at],
            limit: @page_size
          )
          |> Repo.all()
          |> Repo.preload(:customer)
        end
        """,
        """
        def list_recent_orders(store_id) do
          orders =
            from(o in Order, where: o.store_id == ^store_id, order_by: [desc: o.inserted_at], limit: @page_size)
            |> Repo.all()

          ids = orders |> Enum.map(& &1.customer_id) |> Enum.uniq()
          customers = from(c in Customer, where: c.id in ^ids) |> Repo.all() |> Map.new(&{&1.id, &1})
          Enum.map(orders, &%{&1 | customer: Map.fetch!(customers, &1.customer_id)})
        end
        """,
        """
        def list_recent_orders(store_id) do
          from(o in Order, where: o.store_id == ^store_id, order_by: [desc: o.inserted_at], limit: @page_size)
          |> Repo.all()
          |> with_customers()
        end

        defp with_customers(orders), do: Repo.preload(orders, :customer)
        """,
    ], ids=["preload-option", "repo-preload-on-list", "batched-in-query", "preload-in-a-helper"])
    def test_correct_fix_passes(self, ws, fix):
        ws.replace(ORDERS, ORDERS_LOOP, fix)
        assert ws.failing() == set(), ws.last_report

    def test_loop_through_a_captured_helper_fails(self, ws):
        ws.replace(ORDERS, ORDERS_LOOP, """
        def list_recent_orders(store_id) do
          from(o in Order, where: o.store_id == ^store_id, order_by: [desc: o.inserted_at], limit: @page_size)
          |> Repo.all()
          |> Enum.map(&with_customer/1)
        end

        defp with_customer(order), do: %{order | customer: Repo.get!(Customer, order.customer_id)}
        """)
        assert "no query per order" in ws.failing()

    def test_parallel_queries_per_order_fail(self, ws):
        ws.replace(ORDERS, ORDERS_LOOP, """
        def list_recent_orders(store_id) do
          from(o in Order, where: o.store_id == ^store_id, order_by: [desc: o.inserted_at], limit: @page_size)
          |> Repo.all()
          |> Task.async_stream(fn order -> Repo.preload(order, :customer) end)
          |> Enum.map(fn {:ok, order} -> order end)
        end
        """)
        assert "no query per order" in ws.failing()

    def test_fix_in_the_controller_fails(self, ws):
        ws.replace("lib/shop_web/controllers/order_controller.ex", """
        def index(conn, _params) do
          orders = Orders.list_recent_orders(conn.assigns.current_store.id)
        """, """
        def index(conn, _params) do
          orders = Orders.list_recent_orders(conn.assigns.current_store.id) |> Shop.Repo.preload(:customer)
        """)
        assert ws.failing() == {"no query per order", "customers loaded for the whole page at once",
                                "nothing else changed"}


# ---- n-plus-one-preload-for ---------------------------------------------------------------------

BOARDS = "lib/tracker/boards.ex"
BOARDS_LOOP = """
    for project <- projects do
      project = Repo.preload(project, cards: open_cards)
      %{project | open_count: length(project.cards)}
    end
"""
BOARDS_FUNCTION = """
  def list_projects_with_open_cards(team_id) do
    projects =
      from(p in Project,
        where: p.team_id == ^team_id and is_nil(p.archived_at),
        order_by: [asc: p.name]
      )
      |> Repo.all()

    open_cards = from(c in Card, where: c.status != "done", order_by: [asc: c.position])

""" + BOARDS_LOOP.strip("\n") + """
  end
"""


class TestNPlusOnePreloadFor:
    case_id = "n-plus-one-preload-for"

    def test_untouched_fails(self, ws):
        assert ws.failing() == {"no query per project"}

    @pytest.mark.parametrize("fix", [
        """
          for project <- Repo.preload(projects, cards: open_cards) do
            %{project | open_count: length(project.cards)}
          end
        """,
        """
          projects
          |> Repo.preload(cards: open_cards)
          |> Enum.map(fn project -> %{project | open_count: length(project.cards)} end)
        """,
        """
          ids = Enum.map(projects, & &1.id)
          cards = from(c in open_cards, where: c.project_id in ^ids) |> Repo.all() |> Enum.group_by(& &1.project_id)

          for project <- projects do
            project_cards = Map.get(cards, project.id, [])
            %{project | cards: project_cards, open_count: length(project_cards)}
          end
        """,
    ], ids=["preload-in-generator", "preload-then-map", "batched-in-query"])
    def test_correct_fix_passes(self, ws, fix):
        ws.replace(BOARDS, BOARDS_LOOP, fix)
        assert ws.failing() == set(), ws.last_report

    def test_preload_as_query_option_passes(self, ws):
        ws.replace(BOARDS, BOARDS_FUNCTION, """
        def list_projects_with_open_cards(team_id) do
          open_cards = from(c in Card, where: c.status != "done", order_by: [asc: c.position])

          from(p in Project,
            where: p.team_id == ^team_id and is_nil(p.archived_at),
            order_by: [asc: p.name],
            preload: [cards: ^open_cards]
          )
          |> Repo.all()
          |> Enum.map(&%{&1 | open_count: length(&1.cards)})
        end
        """)
        assert ws.failing() == set(), ws.last_report

    def test_preload_per_element_through_a_capture_fails(self, ws):
        ws.replace(BOARDS, BOARDS_LOOP, """
          projects
          |> Enum.map(&Repo.preload(&1, cards: open_cards))
          |> Enum.map(&%{&1 | open_count: length(&1.cards)})
        """)
        assert ws.failing() == {"no query per project"}

    def test_preload_per_element_through_a_helper_fails(self, ws):
        ws.replace(BOARDS, BOARDS_FUNCTION, """
        def list_projects_with_open_cards(team_id) do
          open_cards = from(c in Card, where: c.status != "done", order_by: [asc: c.position])

          from(p in Project, where: p.team_id == ^team_id and is_nil(p.archived_at), order_by: [asc: p.name])
          |> Repo.all()
          |> Enum.map(&with_open_cards(&1, open_cards))
        end

        defp with_open_cards(project, open_cards) do
          project = Repo.preload(project, cards: open_cards)
          %{project | open_count: length(project.cards)}
        end
        """)
        assert "no query per project" in ws.failing()

    def test_dropping_the_cards_fails(self, ws):
        ws.replace(BOARDS, BOARDS_LOOP, """
          for project <- projects, do: %{project | cards: [], open_count: 0}
        """)
        assert ws.failing() == {"open cards loaded for all projects at once"}


# ---- composite-index-order ----------------------------------------------------------------------

EVENTS_MIGRATION = "priv/repo/migrations/20250301100000_add_events_account_id_occurred_at_index.exs"
EVENTS_MODULE = "Pulse.Repo.Migrations.AddEventsAccountIdOccurredAtIndex"


class TestCompositeIndexOrder:
    case_id = "composite-index-order"

    def test_untouched_fails(self, ws):
        assert ws.failing() == {
            "safe migration adding an index on events (account_id, occurred_at)",
            "Acme's feed query gets at least 10x cheaper",
            "a mid-sized account's feed query gets at least 10x cheaper too", SAFE}

    @pytest.mark.parametrize("columns", ["[:account_id, :occurred_at]", "[:account_id, desc: :occurred_at]"],
                             ids=["asc", "desc"])
    def test_right_index_built_safely_passes(self, ws, columns):
        ws.write(EVENTS_MIGRATION, concurrent_migration(
            EVENTS_MODULE, f"create index(:events, {columns}, concurrently: true)"))
        assert ws.failing() == set(), ws.last_report

    def test_columns_in_the_wrong_order_fail(self, ws):
        ws.write(EVENTS_MIGRATION, concurrent_migration(
            EVENTS_MODULE, "create index(:events, [:occurred_at, :account_id], concurrently: true)"))
        # It does serve Acme's feed; how much it helps mid-sized accounts depends on the statistics.
        assert "safe migration adding an index on events (account_id, occurred_at)" in ws.failing()

    def test_index_built_under_a_write_lock_fails(self, ws):
        ws.write(EVENTS_MIGRATION, plain_migration(EVENTS_MODULE, "create index(:events, [:account_id, :occurred_at])"))
        assert ws.failing() == {"safe migration adding an index on events (account_id, occurred_at)", SAFE}

    def test_right_index_next_to_an_unsafe_migration_fails(self, ws):
        ws.write(EVENTS_MIGRATION, concurrent_migration(
            EVENTS_MODULE, "create index(:events, [:account_id, :occurred_at], concurrently: true)"))
        ws.write("priv/repo/migrations/20250301100500_add_events_name_index.exs", plain_migration(
            "Pulse.Repo.Migrations.AddEventsNameIndex", "create index(:events, [:name])"))
        assert ws.failing() == {SAFE}


# ---- partial-index-soft-delete ------------------------------------------------------------------

DOCUMENTS_MIGRATION = "priv/repo/migrations/20250301100000_add_documents_awaiting_signature_index.exs"
DOCUMENTS_MODULE = "Inkwell.Repo.Migrations.AddDocumentsAwaitingSignatureIndex"


class TestPartialIndexSoftDelete:
    case_id = "partial-index-soft-delete"
    index_check = "safe migration adding a partial index for live pending documents"
    plan_check = "the awaiting-signature list gets at least 10x cheaper"

    def test_untouched_fails(self, ws):
        assert ws.failing() == {self.index_check, self.plan_check, SAFE}

    @pytest.mark.parametrize("index", [
        """index(:documents, [:sent_at], where: "deleted_at IS NULL AND status = 'pending'", concurrently: true)""",
        """index(:documents, [:status, :sent_at], where: "status = 'pending' and deleted_at is null",
                 concurrently: true, name: :documents_awaiting_signature_index)""",
        """index(:documents, [:sent_at], where: "(deleted_at IS NULL) AND ((status)::text = 'pending'::text)",
                 concurrently: true)""",
    ], ids=["sent_at", "status-sent_at", "predicate-as-postgres-prints-it"])
    def test_partial_index_for_the_live_pending_rows_passes(self, ws, index):
        ws.write(DOCUMENTS_MIGRATION, concurrent_migration(DOCUMENTS_MODULE, f"create {index}"))
        assert ws.failing() == set(), ws.last_report

    def test_plain_index_on_status_fails(self, ws):
        ws.write(DOCUMENTS_MIGRATION, concurrent_migration(
            DOCUMENTS_MODULE, "create index(:documents, [:status], concurrently: true)"))
        assert ws.failing() == {self.index_check, self.plan_check}

    def test_index_of_all_live_rows_fails(self, ws):
        ws.write(DOCUMENTS_MIGRATION, concurrent_migration(
            DOCUMENTS_MODULE, """create index(:documents, [:status, :sent_at], where: "deleted_at IS NULL", concurrently: true)"""))
        assert ws.failing() == {self.index_check}

    def test_partial_index_built_under_a_write_lock_fails(self, ws):
        ws.write(DOCUMENTS_MIGRATION, plain_migration(
            DOCUMENTS_MODULE, """create index(:documents, [:sent_at], where: "deleted_at IS NULL AND status = 'pending'")"""))
        assert ws.failing() == {self.index_check, SAFE}


# ---- expression-index-lower-email ---------------------------------------------------------------

USERS_MIGRATION = "priv/repo/migrations/20250301100000_add_users_lower_email_index.exs"
USERS_MODULE = "Courier.Repo.Migrations.AddUsersLowerEmailIndex"


class TestExpressionIndexLowerEmail:
    case_id = "expression-index-lower-email"
    index_check = "safe migration adding an index on lower(email)"
    plan_check = "the login lookup gets at least 10x cheaper"

    def test_untouched_fails(self, ws):
        assert ws.failing() == {self.index_check, self.plan_check, SAFE}

    def test_expression_index_passes(self, ws):
        ws.write(USERS_MIGRATION, concurrent_migration(
            USERS_MODULE, """create index(:users, ["lower(email)"], concurrently: true)"""))
        assert ws.failing() == set(), ws.last_report

    def test_unique_index_that_the_data_breaks_fails(self, ws):
        # A few people signed up twice with different casing: a unique index cannot be built.
        ws.write(USERS_MIGRATION, concurrent_migration(
            USERS_MODULE, """create unique_index(:users, ["lower(email)"], concurrently: true)"""))
        assert ws.failing() == {self.plan_check}
        assert "could not create unique index" in ws.last_report

    def test_expression_index_under_a_write_lock_fails(self, ws):
        ws.write(USERS_MIGRATION, plain_migration(USERS_MODULE, """create index(:users, ["lower(email)"])"""))
        assert ws.failing() == {self.index_check, SAFE}

    def test_another_index_on_email_fails(self, ws):
        ws.write(USERS_MIGRATION, concurrent_migration(
            USERS_MODULE, """create index(:users, [:email], concurrently: true, name: :users_email_lookup_index)"""))
        assert ws.failing() == {self.index_check, self.plan_check}


# ---- offset-to-keyset ---------------------------------------------------------------------------

PAYMENTS = "lib/payline/payments.ex"
PAYMENTS_OFFSET = """
  @doc "One page of all transactions, oldest first, for the accounting export API."
  def list_transactions(page) when is_integer(page) and page > 0 do
    from(t in Transaction,
      order_by: [asc: t.id],
      limit: @per_page,
      offset: ^((page - 1) * @per_page)
    )
    |> Repo.all()
  end
"""
TX_CONTROLLER = "lib/payline_web/controllers/api/transaction_controller.ex"
TX_JSON = "lib/payline_web/controllers/api/transaction_json.ex"


class TestOffsetToKeyset:
    case_id = "offset-to-keyset"
    seek_check = "the listing seeks past a cursor instead of skipping rows"

    def test_untouched_fails(self, ws):
        assert ws.failing() == {self.seek_check}

    def test_keyset_pagination_passes(self, ws):
        ws.replace(PAYMENTS, PAYMENTS_OFFSET, """
        @doc "The next transactions after the given id, oldest first, for the accounting export API."
        def list_transactions(after_id \\\\ 0) when is_integer(after_id) do
          from(t in Transaction,
            where: t.id > ^after_id,
            order_by: [asc: t.id],
            limit: @per_page
          )
          |> Repo.all()
        end
        """)
        ws.replace(TX_CONTROLLER, """
          def index(conn, params) do
            page = params |> Map.get("page", "1") |> String.to_integer()
            transactions = Payments.list_transactions(page)
            render(conn, :index, transactions: transactions, page: page)
          end
        """, """
          def index(conn, params) do
            after_id = params |> Map.get("after", "0") |> String.to_integer()
            transactions = Payments.list_transactions(after_id)
            render(conn, :index, transactions: transactions)
          end
        """)
        ws.replace(TX_JSON, """
          def index(%{transactions: transactions, page: page}) do
            %{
              data: Enum.map(transactions, &data/1),
              page: page,
              next_page: if(length(transactions) == Payments.per_page(), do: page + 1)
            }
          end
        """, """
          def index(%{transactions: transactions}) do
            %{
              data: Enum.map(transactions, &data/1),
              next_after: if(length(transactions) == Payments.per_page(), do: List.last(transactions).id)
            }
          end
        """)
        assert ws.failing() == set(), ws.last_report

    def test_keyset_with_query_functions_passes(self, ws):
        ws.replace(PAYMENTS, PAYMENTS_OFFSET, """
        def list_transactions(nil), do: list_transactions(0)

        def list_transactions(cursor) do
          Transaction
          |> where([t], t.id > ^cursor)
          |> order_by(asc: :id)
          |> limit(@per_page)
          |> Repo.all()
        end
        """)
        assert ws.failing() == set(), ws.last_report

    def test_keyset_condition_in_a_helper_passes(self, ws):
        ws.replace(PAYMENTS, PAYMENTS_OFFSET, """
        def list_transactions(cursor \\\\ nil) do
          Transaction
          |> after_cursor(cursor)
          |> order_by(asc: :id)
          |> limit(@per_page)
          |> Repo.all()
        end

        defp after_cursor(query, nil), do: query
        defp after_cursor(query, id), do: where(query, [t], t.id > ^id)
        """)
        assert ws.failing() == set(), ws.last_report

    def test_offset_in_a_helper_fails(self, ws):
        ws.replace(PAYMENTS, PAYMENTS_OFFSET, """
        def list_transactions(page) do
          from(t in Transaction, where: t.id > ^0, order_by: [asc: t.id], limit: @per_page)
          |> paginate(page)
          |> Repo.all()
        end

        defp paginate(query, page), do: offset(query, ^((page - 1) * @per_page))
        """)
        assert ws.failing() == {self.seek_check}

    def test_offset_with_an_index_instead_fails(self, ws):
        ws.write("priv/repo/migrations/20250301100000_add_transactions_id_index.exs", concurrent_migration(
            "Payline.Repo.Migrations.AddTransactionsIdIndex",
            "create index(:transactions, [:id, :inserted_at], concurrently: true)"))
        assert ws.failing() == {self.seek_check}

    def test_offset_through_the_query_api_fails(self, ws):
        ws.replace(PAYMENTS, PAYMENTS_OFFSET, """
        def list_transactions(page) when is_integer(page) and page > 0 do
          Transaction
          |> where([t], t.id > ^0)
          |> order_by(asc: :id)
          |> limit(@per_page)
          |> offset(^((page - 1) * @per_page))
          |> Repo.all()
        end
        """)
        assert ws.failing() == {self.seek_check}

    def test_dropping_the_paging_fails(self, ws):
        ws.replace(PAYMENTS, PAYMENTS_OFFSET, """
        def list_transactions(_page) do
          from(t in Transaction, order_by: [asc: t.id], limit: @per_page) |> Repo.all()
        end
        """)
        assert ws.failing() == {self.seek_check}
