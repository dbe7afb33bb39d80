"""Each check kind of evals/checks.py on small hand-made projects: the right fix passes, and the
wrong fixes a hurried engineer might write fail, for the reason the detail gives.

Code markers are tested on parsed snippets. Checks are run the way `eval check` runs them
(run_checks on a workspace whose files were fingerprinted as "prepared"); those that need a
database get a small pristine one on the test run's server, copied per check run.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import psycopg
import pytest

from evals import database as db
from evals.case import Case, CheckSpec, WorkloadQuery, list_cases
from evals.checks import CHECKS, CheckResult, production_parameters, production_repo_options, run_checks
from evals.workspace import State, build_database, fingerprint
from tools.ecto.code import function_markers, parse_module, reachable, transaction_settings

MIGRATIONS = "priv/repo/migrations"
SAFE_ATTRS = "@disable_ddl_transaction true\n  @disable_migration_lock true\n"


def migration(name: str, body: str, attrs: str = "", version: int = 20250101000000) -> tuple[str, str]:
    module = "".join(part.capitalize() for part in name.split("_"))
    source = (f"defmodule App.Repo.Migrations.{module} do\n  use Ecto.Migration\n  {attrs}\n"
              f"  def change do\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n  end\nend\n")
    return f"{MIGRATIONS}/{version}_{name}.exs", source


def safe(name: str, body: str, version: int = 20250101000000) -> tuple[str, str]:
    return migration(name, body, SAFE_ATTRS, version)


class Project:
    """A workspace as `eval prepare` leaves it: files fingerprinted, databases named in a State."""

    def __init__(self, root: Path, *, pending: tuple[str, ...] = (), may_change: list[str] | None = None,
                 admin_url: str = "postgresql://127.0.0.1:1/unused", pristine: str = "unused") -> None:
        self.root = root
        (root / MIGRATIONS).mkdir(parents=True, exist_ok=True)
        (root / "config").mkdir(exist_ok=True)
        self.write("config/config.exs", "import Config\n\nconfig :app, ecto_repos: [App.Repo]\n")
        self.write(f"{MIGRATIONS}/20240101000000_create_orders.exs", "defmodule App.Repo.Migrations.CreateOrders do\n"
                   "  use Ecto.Migration\n\n  def change do\n    create table(:orders) do\n"
                   "      add :status, :string\n    end\n  end\nend\n")
        self.pending = list(pending)
        self.may_change = may_change or [f"{MIGRATIONS}/*.exs"]
        self.admin_url, self.pristine = admin_url, pristine
        self.database = f"chk_{uuid.uuid4().hex[:10]}"
        self.prepared: dict[str, str] = {}

    def write(self, relative: str, content: str) -> None:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def add(self, *migrations: tuple[str, str]) -> None:
        for path, source in migrations:
            self.write(path, source)

    def prepare(self) -> "Project":
        self.prepared = fingerprint(self.root)
        return self

    def judge(self, kind: str, args: dict | None = None) -> CheckResult:
        case = Case(id="t", title="t", kind="t", task="t.", checks=[CheckSpec(kind=kind, args=args or {})],
                    pending_migrations=self.pending, may_change=self.may_change, directory=self.root)
        state = State(case="t", workspace=str(self.root), admin_url=self.admin_url, database=self.database,
                      pristine=self.pristine, database_url="unused", fingerprints=self.prepared)
        (result,) = run_checks(case, state, self.root).checks
        return result


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path / "app").prepare()


KINDS = {"index_migration", "index_dropped", "migrations_safe", "schema_has", "query_improves", "no_disk_sort",
         "estimate_ok", "no_repo_in_loop", "code_shape", "untouched", "any_of", "all_of"}


def test_the_check_kinds():
    assert KINDS <= set(CHECKS)


@pytest.mark.parametrize("case", list_cases(), ids=lambda c: c.id)
def test_every_case_uses_kinds_the_cli_knows(case):
    def kinds(specs):
        for spec in specs:
            yield spec["kind"]
            yield from kinds(spec.get("args", {}).get("checks", []))

    unknown = set(kinds([s.model_dump() for s in case.checks])) - set(CHECKS)
    assert not unknown, f"{case.id} uses {sorted(unknown)}, which `eval check` does not know"


# ---- code markers -------------------------------------------------------------------------------

def markers(source: str, name: str = "f", **kw) -> set[str]:
    module = parse_module(f"defmodule M do\n{textwrap.dedent(source)}\nend\n")
    return function_markers(module, name, **kw)[0]


def test_a_field_access_is_a_field_not_a_call():
    found = markers("""
    def f(a), do: {a.body, &1.customer_id, parent_as(:c).id, Repo.all, a.title(), __MODULE__.g}
    def g, do: 1
    """)
    assert {"field:body", "field:customer_id", "field:id", "call:parent_as", "call:Repo.all", "call:all",
            "call:title", "call:__MODULE__.g"} <= found
    assert "call:body" not in found and "call:customer_id" not in found and "field:all" not in found


def test_word_list_sigils_with_the_atom_modifier_are_atoms():
    assert {"atom:id", "atom:title"} <= markers("def f, do: select(q, ~w(id title)a)")
    assert "atom:id" not in markers("def f, do: select(q, ~w(id title))")


@pytest.mark.parametrize("where", ["a.id not in ^ids", "not (a.id in ^ids)", "not(a.id in ^ids)", "!(a.id in ^ids)"])
def test_every_spelling_of_not_in_is_op_not_in(where):
    assert "op:not in" in markers(f"def f, do: from(a in A, where: {where})")


def test_pin_in_is_a_lookup_by_a_list_not_the_from_binding():
    assert "pin-in" not in markers("def f, do: from(o in Order, where: o.id == 1)")
    assert "pin-in" in markers("def f(ids), do: from(c in Customer, where: c.id in ^ids)")
    assert "pin-compare" in markers("def f(id), do: where(q, [t], t.id > ^id)")
    assert "pin-compare" not in markers("def f, do: where(q, [t], t.id > 0)")


def test_sql_in_fragments():
    found = markers('def f, do: where(q, [c], fragment("NOT EXISTS (SELECT 1 FROM o LEFT JOIN x ON true)"))')
    assert {"sql:not exists", "sql:left join"} <= found and "sql:not in" not in found
    assert "sql:not in" in markers('def f, do: where(q, [c], fragment("? NOT IN (SELECT 1)", c.id))')


def test_module_attributes_are_read_as_of_where_the_function_is():
    source = """
    @fields [:id, :title]
    def f, do: select(q, ^@fields)
    @fields ~w(body)a
    def g, do: select(q, ^@fields)
    """
    assert {"atom:id", "atom:title"} <= markers(source, "f") and "atom:body" not in markers(source, "f")
    assert "atom:body" in markers(source, "g") and "atom:title" not in markers(source, "g")


def test_local_functions_are_followed_transitively_unless_told_not_to():
    source = """
    def f(x), do: x |> g() |> Enum.map(&h/1)
    defp g(x), do: __MODULE__.k(x)
    defp h(x), do: x
    def k(x), do: offset(x, 10)
    def unrelated, do: limit(q, 1)
    """
    module = parse_module(f"defmodule M do\n{textwrap.dedent(source)}\nend\n")
    assert sorted(f.name for f in reachable(module, "f")) == ["f", "g", "h", "k"]
    assert sorted(f.name for f in reachable(module, "f", transitive=False)) == ["f", "g", "h"]
    assert "call:offset" in markers(source) and "call:limit" not in markers(source)
    assert "call:offset" not in markers(source, follow_local=False)


def test_transaction_settings_only_count_inside_the_transaction():
    source = """
    def f do
      Repo.query!("SET LOCAL statement_timeout = '1s'")
      Repo.transaction(fn ->
        Repo.query!("SET LOCAL work_mem = '64MB'")
        Ecto.Adapters.SQL.query!(Repo, "SELECT set_config('temp_buffers', '32MB', true)")
        Repo.query!("SET maintenance_work_mem = '1GB'")
        Repo.all(q)
      end)
    end
    """
    module = parse_module(f"defmodule M do\n{textwrap.dedent(source)}\nend\n")
    settings, notes = transaction_settings(module.named("f"))
    assert settings == {"work_mem": "64MB", "temp_buffers": "32MB"}
    assert len(notes) == 1 and "maintenance_work_mem" in notes[0]


# ---- code_shape ---------------------------------------------------------------------------------

LISTING = """
defmodule App.Articles do
  import Ecto.Query

  @fields ~w(id title)a

  def list(section_id) do
    from(a in Article, where: a.section_id == ^section_id, select: %{title: a.title, body: a.body})
    |> Repo.all()
  end

  def listed(section_id), do: section_id |> query() |> Repo.all()

  defp query(section_id) do
    from(a in Article, where: a.section_id == ^section_id, select: struct(a, @fields))
  end
end
"""


def test_code_shape_judges_the_function_and_the_helpers_it_reaches(project):
    project.write("lib/app/articles.ex", LISTING)
    shape = {"file": "lib/app/articles.ex", "any": ["kw:select", "call:select"], "fields": ["title"],
             "forbid": ["atom:body", "field:body", "kw:body"]}
    wrong = project.judge("code_shape", {**shape, "function": "list"})
    assert not wrong.passed and "still has field:body, kw:body" in wrong.detail
    right = project.judge("code_shape", {**shape, "function": "listed"})
    assert right.passed, right.detail
    assert "read: listed, query" in right.detail
    alone = project.judge("code_shape", {**shape, "function": "listed", "follow_local": False})
    assert not alone.passed and "has none of kw:select, call:select" in alone.detail
    assert "missing title" in alone.detail


def test_code_shape_require_and_a_missing_function(project):
    project.write("lib/app/articles.ex", LISTING)
    result = project.judge("code_shape", {"file": "lib/app/articles.ex", "function": "list",
                                          "require": ["pin-compare", "call:all"]})
    assert not result.passed and result.detail.endswith("missing pin-compare")
    result = project.judge("code_shape", {"file": "lib/app/articles.ex", "function": "nope"})
    assert not result.passed and "has no function nope" in result.detail
    result = project.judge("code_shape", {"file": "lib/app/missing.ex", "function": "nope"})
    assert not result.passed and "lib/app/missing.ex is missing" in result.detail


# ---- index_migration ----------------------------------------------------------------------------

EVENTS = {"table": "orders", "columns": ["account_id", "occurred_at"]}
EVENTS_BODY = "create index(:orders, [:account_id, :occurred_at], concurrently: true)"


@pytest.mark.parametrize("body", [
    "create index(:orders, [:account_id, :occurred_at], concurrently: true)",
    "create index(:orders, [:account_id, desc: :occurred_at], concurrently: true)",
    'execute "CREATE INDEX CONCURRENTLY orders_feed ON orders (account_id, occurred_at DESC)", '
    '"DROP INDEX CONCURRENTLY orders_feed"',
], ids=["asc", "desc", "sql"])
def test_index_migration_right_index_passes(project, body):
    project.add(safe("add_orders_feed_index", body))
    result = project.judge("index_migration", EVENTS)
    assert result.passed, result.detail


@pytest.mark.parametrize("body, attrs, reason", [
    ("create index(:orders, [:occurred_at, :account_id], concurrently: true)", SAFE_ATTRS, "not the index needed"),
    ("create index(:orders, [:account_id, :occurred_at])", "", "is not built concurrently"),
    ("create index(:orders, [:account_id, :occurred_at], concurrently: true)", "@disable_ddl_transaction true",
     "lacks @disable_migration_lock true"),
    ("create index(:orders, [:account_id, :occurred_at], concurrently: true)\nalter table(:orders) do\n"
     "  add :note, :text\nend", SAFE_ATTRS, "does other work in the same migration (AlterTable)"),
    ("create unique_index(:orders, [:account_id, :occurred_at], concurrently: true)", SAFE_ATTRS,
     "uniqueness differs"),
    ('execute "CREATE INDEX orders_feed ON orders (account_id, occurred_at)"', SAFE_ATTRS,
     "is not built concurrently"),
])
def test_index_migration_wrong_fixes_fail(project, body, attrs, reason):
    project.add(migration("add_orders_feed_index", body, attrs))
    result = project.judge("index_migration", {**EVENTS, "unique": False})
    assert not result.passed and reason in result.detail, result.detail


def test_index_migration_without_a_migration_fails(project):
    assert project.judge("index_migration", EVENTS).detail == "no new migration"


def test_index_migration_on_a_table_it_creates_needs_no_concurrency(project):
    project.add(migration("create_events", """
        create table(:events) do
          add :account_id, :bigint
        end
        create index(:events, [:account_id])
    """))
    assert project.judge("index_migration", {"table": "events", "columns": ["account_id"]}).passed


def test_index_migration_prefix_and_columns_any(project):
    project.add(safe("add_orders_feed_index", "create index(:orders, [:status, :sent_at, :id], concurrently: true)"))
    assert project.judge("index_migration", {"table": "orders", "columns": ["status"], "prefix": True}).passed
    assert not project.judge("index_migration", {"table": "orders", "columns": ["sent_at"], "prefix": True}).passed
    assert project.judge("index_migration", {"table": "orders",
                                              "columns_any": [["sent_at"], ["status", "sent_at", "id"]]}).passed
    assert not project.judge("index_migration", {"table": "orders", "columns_any": [["sent_at"], ["status"]]}).passed


LIVE_PENDING = {"table": "orders", "columns": ["sent_at"], "where_all": ["deleted_at IS NULL", "status = 'pending'"]}


@pytest.mark.parametrize("where", [
    "deleted_at IS NULL AND status = 'pending'",
    "status = 'pending' and deleted_at is null",
    "(deleted_at IS NULL) AND ((status)::text = 'pending'::text)",
    "deleted_at IS NULL AND status = 'pending' AND sent_at IS NOT NULL",
])
def test_index_migration_where_all_is_judged_by_conjuncts(project, where):
    project.add(safe("add_orders_live_pending_index",
                     f'create index(:orders, [:sent_at], where: "{where}", concurrently: true)'))
    result = project.judge("index_migration", LIVE_PENDING)
    assert result.passed, result.detail


@pytest.mark.parametrize("where", ["deleted_at IS NULL", "deleted_at IS NULL OR status = 'pending'",
                                   "deleted_at IS NOT NULL AND status = 'pending'"])
def test_index_migration_where_all_wrong_predicates_fail(project, where):
    project.add(safe("add_orders_live_pending_index",
                     f'create index(:orders, [:sent_at], where: "{where}", concurrently: true)'))
    result = project.judge("index_migration", LIVE_PENDING)
    assert not result.passed and "does not restrict it to" in result.detail


def test_index_migration_where_and_include(project):
    project.add(safe("add_orders_index", 'create index(:orders, [:sent_at], where: "(status)::text = \'open\'::text", '
                                         "include: [:id], concurrently: true)"))
    assert project.judge("index_migration", {"table": "orders", "columns": ["sent_at"], "where": "status = 'open'",
                                             "include": ["id"]}).passed
    result = project.judge("index_migration", {"table": "orders", "columns": ["sent_at"], "include": ["status"]})
    assert not result.passed and "its include:" in result.detail
    result = project.judge("index_migration", {"table": "orders", "columns": ["sent_at"], "where": "status = 'paid'"})
    assert not result.passed and "its where:" in result.detail


def test_index_migration_in_sql_is_judged_like_the_dsl(project):
    project.add(safe("add_orders_index", 'execute "CREATE INDEX CONCURRENTLY orders_open ON public.orders USING btree '
                                         "(sent_at) INCLUDE (id) WHERE ((status)::text = 'open'::text) AND (deleted_at "
                                         'IS NULL)", "DROP INDEX CONCURRENTLY orders_open"'))
    args = {"table": "orders", "columns": ["sent_at"], "include": ["id"]}
    assert project.judge("index_migration", {**args, "where": "status = 'open'"}).passed
    assert project.judge("index_migration", {**args, "where_all": ["deleted_at IS NULL", "status = 'open'"]}).passed
    assert not project.judge("index_migration", {**args, "where_all": ["status = 'paid'"]}).passed
    assert project.judge("migrations_safe").passed


def test_the_advisory_migration_lock_replaces_the_attribute(project):
    project.add(migration("add_orders_feed_index", EVENTS_BODY, "@disable_ddl_transaction true"))
    project.write("config/dev.exs", "import Config\nconfig :app, App.Repo, migration_lock: :pg_advisory_lock\n")
    dev_only = project.judge("index_migration", EVENTS)
    assert not dev_only.passed and "lacks @disable_migration_lock true" in dev_only.detail
    project.write("config/prod.exs", "import Config\nconfig :app, App.Repo, migration_lock: :pg_advisory_lock\n")
    assert project.judge("index_migration", EVENTS).passed
    result = project.judge("migrations_safe")
    assert result.passed and "pg_advisory_lock" in result.detail



def test_production_config_is_config_prod_and_runtime(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.exs").write_text(
        'import Config\nconfig :app, App.Repo, parameters: [work_mem: "8MB", lock_timeout: "5s"], pool_size: 5\n')
    (tmp_path / "config" / "dev.exs").write_text(
        'import Config\nconfig :app, App.Repo, parameters: [work_mem: "1GB"]\n')
    (tmp_path / "config" / "runtime.exs").write_text(
        'import Config\nif config_env() == :prod do\n  config :app, App.Repo, parameters: [work_mem: "64MB"]\nend\n')
    assert production_parameters(tmp_path) == {"work_mem": "64MB", "lock_timeout": "5s"}
    assert production_repo_options(tmp_path)["pool_size"] == 5


# ---- migrations_safe ----------------------------------------------------------------------------

def test_migrations_safe_needs_a_migration_unless_none_is_allowed(project):
    assert not project.judge("migrations_safe").passed
    assert project.judge("migrations_safe", {"allow_none": True}).passed


@pytest.mark.parametrize("body", [
    "drop index(:orders, [:customer_id])",
    "drop_if_exists index(:orders, [:customer_id])",
    'execute "DROP INDEX orders_customer_id_index", "CREATE INDEX orders_customer_id_index ON orders (customer_id)"',
    'execute "CREATE INDEX orders_status ON orders (status)"',
    "create index(:orders, [:status])",
])
def test_migrations_safe_flags_index_work_under_lock(project, body):
    project.add(migration("index_work", body))
    result = project.judge("migrations_safe")
    assert not result.passed and "without concurrently" in result.detail, result.detail


@pytest.mark.parametrize("body", [
    "drop index(:orders, [:customer_id], concurrently: true)",
    'execute "DROP INDEX CONCURRENTLY orders_customer_id_index", '
    '"CREATE INDEX CONCURRENTLY orders_customer_id_index ON orders (customer_id)"',
    "create index(:orders, [:status], concurrently: true)",
])
def test_migrations_safe_accepts_concurrent_index_work(project, body):
    project.add(safe("index_work", body))
    assert project.judge("migrations_safe").passed


def test_migrations_safe_concurrent_drop_needs_the_attributes(project):
    project.add(migration("index_work", "drop index(:orders, [:customer_id], concurrently: true)"))
    result = project.judge("migrations_safe")
    assert not result.passed and "concurrent drop, but the migration lacks @disable_ddl_transaction" in result.detail


def test_migrations_safe_foreign_keys(project):
    project.add(migration("add_coupon", "alter table(:orders) do\n  add :coupon_id, references(:coupons)\nend"))
    assert "validated under lock" in project.judge("migrations_safe").detail
    not_valid = "alter table(:orders) do\n  add :coupon_id, references(:coupons, validate: false)\nend"
    validate = 'execute "ALTER TABLE orders VALIDATE CONSTRAINT orders_coupon_id_fkey", ""'
    project.add(migration("add_coupon", not_valid + "\n" + validate))
    assert "in the same migration" in project.judge("migrations_safe").detail
    project.add(migration("add_coupon", not_valid), migration("validate_coupon", validate, version=20250101000100))
    assert project.judge("migrations_safe").passed


def test_pending_migrations_are_judged_and_may_be_replaced(tmp_path):
    pending = f"{MIGRATIONS}/20240601000000_add_status_index.exs"
    project = Project(tmp_path / "app", pending=(pending,))
    project.write(pending, migration("add_status_index", "create index(:orders, [:status])")[1])
    project.prepare()
    assert not project.judge("migrations_safe").passed  # untouched, the pending migration is unsafe
    (project.root / pending).unlink()
    project.add(safe("add_status_index", "create index(:orders, [:status], concurrently: true)"))
    assert project.judge("migrations_safe").passed
    result = project.judge("untouched")
    assert result.passed and "1 pending migration(s) deleted" in result.detail


# ---- untouched ----------------------------------------------------------------------------------

def test_untouched(project):
    assert project.judge("untouched").passed
    project.add(safe("add_status_index", "create index(:orders, [:status], concurrently: true)"))
    assert project.judge("untouched").passed
    project.write("lib/app/orders.ex", "defmodule App.Orders do\nend\n")
    result = project.judge("untouched")
    assert not result.passed and "added lib/app/orders.ex" in result.detail
    assert project.judge("untouched", {"allow": ["lib/app/*.ex"]}).passed
    (project.root / f"{MIGRATIONS}/20240101000000_create_orders.exs").unlink()
    result = project.judge("untouched", {"allow": ["lib/app/*.ex"]})
    assert not result.passed and "deleted priv/repo/migrations/20240101000000_create_orders.exs" in result.detail


def test_untouched_flags_changes_outside_the_task(project):
    project.write("config/config.exs", "import Config\n")
    result = project.judge("untouched")
    assert not result.passed and result.detail == "changed config/config.exs"


# ---- any_of / all_of ----------------------------------------------------------------------------

def test_any_of_and_all_of(project):
    project.add(safe("add_status_index", "create index(:orders, [:status], concurrently: true)"))
    good = {"kind": "migrations_safe", "name": "safe"}
    bad = {"kind": "index_migration", "name": "other index", "args": {"table": "orders", "columns": ["id"]}}
    unknown = {"kind": "nope", "name": "unknown"}
    assert project.judge("any_of", {"checks": [bad, good]}).passed
    assert not project.judge("any_of", {"checks": [bad, unknown]}).passed
    assert project.judge("all_of", {"checks": [good, {"kind": "untouched"}]}).passed
    result = project.judge("all_of", {"checks": [good, bad, unknown]})
    assert not result.passed
    assert "other index: no safe migration" in result.detail and "unknown: unknown check kind 'nope'" in result.detail
    assert "safe:" not in result.detail
    nested = project.judge("any_of", {"checks": [{"kind": "all_of", "args": {"checks": [good, bad]}}, good]})
    assert nested.passed


# ---- checks on a database -----------------------------------------------------------------------

SCHEMA = """
CREATE TABLE customers (id bigserial PRIMARY KEY, name text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint REFERENCES customers(id), status text NOT NULL,
                     number text NOT NULL, inserted_at timestamp NOT NULL, memo text NOT NULL);
CREATE TABLE addresses (id bigserial PRIMARY KEY, city text NOT NULL, zip text NOT NULL);
INSERT INTO customers (name) SELECT 'c' || i FROM generate_series(1, 1000) i;
INSERT INTO orders (customer_id, status, number, inserted_at, memo)
  SELECT 1 + i % 1000, (ARRAY['open', 'paid', 'shipped'])[1 + i % 3], 'N' || i,
         timestamp '2024-01-01' + (i * interval '2 minutes'), md5(i::text) || md5((i * 7)::text)
  FROM generate_series(1, 200000) i;
CREATE INDEX orders_customer_id_index ON orders (customer_id);
CREATE INDEX orders_customer_id_status_index ON orders (customer_id, status);
CREATE UNIQUE INDEX orders_number_index ON orders (number);
-- zip follows from city: the planner multiplies their selectivities unless told otherwise
INSERT INTO addresses (city, zip) SELECT 'city' || i % 100, 'zip' || i % 100 FROM generate_series(1, 100000) i;
"""


@pytest.fixture(scope="module")
def pristine(pg_server):
    name = f"chk_pristine_{uuid.uuid4().hex[:8]}"
    url = db.create_database(pg_server.url(), name)
    db.run_script(url, SCHEMA)
    db.vacuum_analyze(url)
    yield pg_server.url(), name
    db.drop_database(pg_server.url(), name)


@pytest.fixture
def dbproject(tmp_path, pristine) -> Project:
    admin_url, name = pristine
    return Project(tmp_path / "app", admin_url=admin_url, pristine=name).prepare()


def test_index_dropped(dbproject):
    args = {"index": "orders_customer_id_index"}
    assert dbproject.judge("index_dropped", args).detail == "no new migration drops orders_customer_id_index"
    dbproject.add(migration("drop_index", "drop index(:orders, [:customer_id])"))
    result = dbproject.judge("index_dropped", args)
    assert not result.passed and "not dropped concurrently" in result.detail
    dbproject.add(safe("drop_index", "drop index(:orders, [:customer_id, :status], concurrently: true)"))
    assert not dbproject.judge("index_dropped", args).passed
    dbproject.add(safe("drop_index", "drop index(:orders, [:customer_id], concurrently: true)"))
    result = dbproject.judge("index_dropped", args)
    assert result.passed, result.detail


@pytest.mark.parametrize("sql", ["DROP INDEX CONCURRENTLY orders_customer_id_index",
                                 "DROP INDEX CONCURRENTLY IF EXISTS public.orders_customer_id_index"])
def test_index_dropped_in_sql(dbproject, sql):
    dbproject.add(safe("drop_index", f'execute "{sql}", "CREATE INDEX CONCURRENTLY orders_customer_id_index '
                                     'ON orders (customer_id)"'))
    result = dbproject.judge("index_dropped", {"index": "orders_customer_id_index"})
    assert result.passed, result.detail


def test_index_dropped_in_sql_without_concurrently_fails(dbproject):
    dbproject.add(migration("drop_index", 'execute "DROP INDEX orders_customer_id_index"'))
    result = dbproject.judge("index_dropped", {"index": "orders_customer_id_index"})
    assert not result.passed and "not dropped concurrently" in result.detail


def test_schema_has(dbproject):
    assert dbproject.judge("schema_has", {"index": {"table": "orders", "columns": ["customer_id", "status"]}}).passed
    result = dbproject.judge("schema_has", {"index": {"table": "orders", "columns": ["status"]}})
    assert not result.passed and "no index on orders(status)" in result.detail
    dbproject.add(migration("add_check", 'execute "ALTER TABLE orders ADD CONSTRAINT status_known '
                                         "CHECK (status <> '') NOT VALID\""))
    result = dbproject.judge("schema_has", {"constraint": "status_known"})
    assert not result.passed and "NOT VALID" in result.detail
    assert not dbproject.judge("schema_has", {"statistics_on": "addresses"}).passed


RECENT = 'SELECT o0."id", o0."status" FROM "orders" AS o0 WHERE (o0."inserted_at" >= $1)'


def test_query_improves(dbproject):
    args = {"sql": RECENT, "params": ["2024-10-01 00:00:00"], "uses_index_on": "orders"}
    result = dbproject.judge("query_improves", args)
    assert not result.passed and "does not use an index on orders" in result.detail
    dbproject.add(safe("add_inserted_at_index", "create index(:orders, [:status], concurrently: true)"))
    assert not dbproject.judge("query_improves", args).passed
    dbproject.add(safe("add_inserted_at_index", "create index(:orders, [:inserted_at], concurrently: true)"))
    result = dbproject.judge("query_improves", args)
    assert result.passed, result.detail


def test_the_scratch_copy_is_vacuumed_after_the_migrations(dbproject):
    from evals.checks import CheckContext

    case = Case(id="t", title="t", kind="t", task="t.", checks=[], directory=dbproject.root)
    state = State(case="t", workspace=str(dbproject.root), admin_url=dbproject.admin_url,
                  database=dbproject.database, pristine=dbproject.pristine, database_url="unused",
                  fingerprints=dbproject.prepared)
    ctx = CheckContext(case, state, dbproject.root)
    try:
        with psycopg.connect(ctx.scratch_url()) as conn:
            vacuumed = conn.execute("SELECT count(*) FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL "
                                    "AND relname IN ('orders', 'addresses')").fetchone()[0]
        assert vacuumed == 2
    finally:
        db.drop_database(dbproject.admin_url, f"{dbproject.database}_scratch")


SORTED = 'SELECT o0."id", o0."memo" FROM "orders" AS o0 ORDER BY o0."memo"'
CONTEXT = "lib/app/orders.ex"
EXPORT = """
defmodule App.Orders do
  def export do
    %s
  end

  defp run, do: Repo.all(from(o in Order, order_by: o.memo))
end
"""


def _sort_args() -> dict:
    return {"sql": SORTED, "file": CONTEXT, "function": "export"}


def test_no_disk_sort_untouched_spills(dbproject):
    dbproject.write(CONTEXT, EXPORT % "run()")
    result = dbproject.judge("no_disk_sort", _sort_args())
    assert not result.passed and "spills to disk" in result.detail
    assert not dbproject.judge("no_disk_sort", {"sql": SORTED}).passed


@pytest.mark.parametrize("config, code", [
    (("config/config.exs", 'import Config\nconfig :app, App.Repo, parameters: [work_mem: "64MB"]\n'), "run()"),
    (("config/runtime.exs", 'import Config\nif config_env() == :prod do\n'
                            '  config :app, App.Repo, parameters: [work_mem: "64MB"]\nend\n'), "run()"),
    (None, """Repo.transaction(fn ->
      Repo.query!("SET LOCAL work_mem = '64MB'")
      run()
    end)"""),
    (None, """Repo.transaction(fn ->
      Repo.query!("SELECT set_config('work_mem', '64MB', true)")
      run()
    end)"""),
], ids=["config", "runtime", "set-local", "set-config-local"])
def test_no_disk_sort_with_enough_work_mem_passes(dbproject, config, code):
    if config:
        dbproject.write(*config)
    dbproject.write(CONTEXT, EXPORT % code)
    result = dbproject.judge("no_disk_sort", _sort_args())
    assert result.passed, result.detail
    assert "work_mem" in result.detail


@pytest.mark.parametrize("config, code, note", [
    (("config/dev.exs", 'import Config\nconfig :app, App.Repo, parameters: [work_mem: "64MB"]\n'), "run()", ""),
    (("config/config.exs", 'import Config\nconfig :app, App.Repo, parameters: [work_mem: "1MB"]\n'), "run()", ""),
    (None, """Repo.query!("SET work_mem = '64MB'")
    run()""", ""),
    (None, """Repo.transaction(fn ->
      Repo.query!("SET work_mem = '64MB'")
      run()
    end)""", "session-wide work_mem"),
], ids=["dev-only", "too-little", "session-set", "session-set-in-transaction"])
def test_no_disk_sort_wrong_settings_fail(dbproject, config, code, note):
    if config:
        dbproject.write(*config)
    dbproject.write(CONTEXT, EXPORT % code)
    result = dbproject.judge("no_disk_sort", _sort_args())
    assert not result.passed and "spills to disk" in result.detail
    assert note in result.detail


AREA = 'SELECT count(*) FROM "addresses" AS a0 WHERE ((a0."city" = $1) AND (a0."zip" = $2))'


def test_estimate_ok(dbproject):
    args = {"sql": AREA, "params": ["city7", "zip7"], "relation": "addresses", "max_factor": 10}
    result = dbproject.judge("estimate_ok", args)
    assert not result.passed and "worst estimate factor on addresses" in result.detail
    dbproject.add(migration("add_statistics", 'execute "CREATE STATISTICS addresses_city_zip (dependencies) '
                                              'ON city, zip FROM addresses", "DROP STATISTICS addresses_city_zip"'))
    result = dbproject.judge("estimate_ok", args)
    assert result.passed, result.detail


def test_estimate_ok_judges_an_empty_scan_against_one_row(dbproject):
    # city7 never has zip8: the scan returns 0 rows where the planner expects about 10.
    args = {"sql": AREA, "params": ["city7", "zip8"], "relation": "addresses"}
    result = dbproject.judge("estimate_ok", {**args, "max_factor": 100})
    assert result.passed and "returned 0 rows per loop, judged as 1 row" in result.detail, result.detail
    result = dbproject.judge("estimate_ok", {**args, "max_factor": 2})
    assert not result.passed and "returned 0 rows per loop" in result.detail, result.detail
    result = dbproject.judge("estimate_ok", {**args, "relation": "customers"})
    assert not result.passed and "is not in the plan" in result.detail


# ---- the databases a workspace is built on ------------------------------------------------------

def test_build_database_vacuums_the_pristine_copy(pg_server, tmp_path):
    directory = tmp_path / "case"
    migrations = directory / "project" / MIGRATIONS
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_create_things.exs").write_text(
        "defmodule App.Repo.Migrations.CreateThings do\n  use Ecto.Migration\n\n  def change do\n"
        "    create table(:things) do\n      add :n, :integer\n    end\n  end\nend\n")
    (directory / "data.sql").write_text("INSERT INTO things (n) SELECT i FROM generate_series(1, 20000) i;")
    case = Case(id="t", title="t", kind="t", task="t.", checks=[], directory=directory,
                workload=[WorkloadQuery(sql="SELECT count(*) FROM things")])
    name = f"chk_build_{uuid.uuid4().hex[:8]}"
    state = State(case="t", workspace=str(tmp_path), admin_url=pg_server.url(), database=name,
                  pristine=f"{name}_pristine", database_url=db.admin_url_for(pg_server.url(), name))
    try:
        build_database(case, state)
        for dbname in (state.pristine, state.database):
            with psycopg.connect(db.admin_url_for(pg_server.url(), dbname)) as conn:
                pages, visible = conn.execute(
                    "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'things'").fetchone()
            assert pages > 0 and visible == pages, dbname
    finally:
        for dbname in (state.database, state.pristine):
            db.drop_database(pg_server.url(), dbname)


def test_replay_workload_resets_only_its_own_database(pg_server):
    names = [f"chk_stats_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    urls = [db.create_database(pg_server.url(), n) for n in names]
    try:
        with psycopg.connect(urls[0], autocommit=True) as conn:
            conn.execute("SELECT 4242 AS someone_elses_query")
        db.replay_workload(urls[1], [WorkloadQuery(sql="SELECT 1 AS our_query", calls=2)])
        with psycopg.connect(pg_server.url()) as conn:
            rows = conn.execute("SELECT d.datname, s.query FROM pg_stat_statements s "
                                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY(%s)", (names,)).fetchall()
        assert any(d == names[0] and "someone_elses_query" in q for d, q in rows), rows
        assert any(d == names[1] and "our_query" in q for d, q in rows), rows
    finally:
        for n in names:
            db.drop_database(pg_server.url(), n)
