"""Eval cases latest-row-per-group, dashboard-materialized-view and partition-time-series: each
is prepared once into a workspace on the test run's server; the untouched project must fail its
checks, a correct fix must pass them, and representative wrong fixes must fail. The correct fixes
for the view and the partitioning are what this project's own tools propose for the case's
database, so the cases also prove the tools' output. Files are restored between variants."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import STATE_DIR, State, clean, prepare

pytestmark = pytest.mark.db


class Workspace:
    def __init__(self, case_id: str, path: Path):
        self.case_id = case_id
        self.path = path
        self.project = load_case(case_id).project_dir
        self.url = State.load(path).database_url

    def restore(self) -> None:
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


def replace_function(ws: Workspace, relative: str, name: str, new: str, drop: tuple[str, ...] = ()) -> None:
    """Swap one `def`/`defp` (up to the next def or the module's end) for new code."""
    source = (ws.path / relative).read_text()
    for fn in (name, *drop):
        m = re.search(rf"\n  (?:@doc [^\n]*\n  )?defp? {fn}\b.*?(?=\n  (?:@doc|defp? )|\nend\s*$)", source, re.S)
        assert m, f"{fn} not found in {relative}"
        source = source[:m.start()] + ("\n" + textwrap.indent(textwrap.dedent(new).strip(), "  ") + "\n"
                                       if fn == name else "") + source[m.end():]
    (ws.path / relative).write_text(source)


# ---- latest-row-per-group -----------------------------------------------------------------------

LRG = "latest-row-per-group"
INBOX = "lib/parley/inbox.ex"
LATERAL = """
def list_conversations_with_latest_message(limit \\\\ 50) do
  latest =
    from(m in Message,
      where: m.conversation_id == parent_as(:conversation).id,
      order_by: [desc: m.inserted_at],
      limit: 1
    )

  from(c in Conversation,
    as: :conversation,
    where: c.status == "open",
    order_by: [desc: c.updated_at],
    limit: ^limit,
    left_lateral_join: m in subquery(latest),
    on: true,
    select: %{conversation: c, latest_message: m}
  )
  |> Repo.all()
end
"""
LISTED = """
def list_conversations_with_latest_message(limit \\\\ 50) do
  conversations =
    from(c in Conversation, where: c.status == "open", order_by: [desc: c.updated_at], limit: ^limit)
    |> Repo.all()

  ids = Enum.map(conversations, & &1.id)
  latest = ids |> latest_messages() |> Map.new(&{&1.conversation_id, &1})
  Enum.map(conversations, &%{conversation: &1, latest_message: latest[&1.id]})
end
"""
WINDOW = LISTED + """
defp latest_messages(ids) do
  ranked =
    from(m in Message,
      where: m.conversation_id in ^ids,
      select: %{id: m.id, rank: over(row_number(), partition_by: m.conversation_id, order_by: [desc: m.inserted_at])}
    )

  from(m in Message, join: r in subquery(ranked), on: r.id == m.id and r.rank == 1) |> Repo.all()
end
"""
DISTINCT_ON = LISTED + """
defp latest_messages(ids) do
  from(m in Message, where: m.conversation_id in ^ids, distinct: m.conversation_id, order_by: [desc: m.inserted_at])
  |> Repo.all()
end
"""
PRELOAD_ALL = """
def list_conversations_with_latest_message(limit \\\\ 50) do
  from(c in Conversation, where: c.status == "open", order_by: [desc: c.updated_at], limit: ^limit)
  |> Repo.all()
  |> Repo.preload(:messages)
  |> Enum.map(fn c ->
    %{conversation: c, latest_message: Enum.max_by(c.messages, & &1.inserted_at, NaiveDateTime, fn -> nil end)}
  end)
end
"""
IN_TASKS = """
def list_conversations_with_latest_message(limit \\\\ 50) do
  from(c in Conversation, where: c.status == "open", order_by: [desc: c.updated_at], limit: ^limit)
  |> Repo.all()
  |> Task.async_stream(fn c ->
    latest = from(m in Message, where: m.conversation_id == ^c.id, order_by: [desc: m.inserted_at], limit: 1)
    %{conversation: c, latest_message: Repo.one(latest)}
  end)
  |> Enum.map(fn {:ok, row} -> row end)
end
"""


def test_latest_row_per_group_untouched_fails(workspaces):
    result, checks = workspaces(LRG).check()
    assert not result.passed
    assert not checks["no query per conversation"].passed
    assert checks["nothing else changed"].passed


@pytest.mark.parametrize("code", [LATERAL, WINDOW, DISTINCT_ON], ids=["lateral", "window", "distinct-on"])
def test_latest_row_per_group_correct_fixes_pass(workspaces, code):
    ws = workspaces(LRG)
    replace_function(ws, INBOX, "list_conversations_with_latest_message", code, drop=("latest_message",))
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("code, broken", [
    (PRELOAD_ALL, "the database picks each conversation's latest message in one query"),
    (IN_TASKS, "no query per conversation"),
], ids=["preload-every-message", "queries-in-tasks"])
def test_latest_row_per_group_wrong_fixes_fail(workspaces, code, broken):
    ws = workspaces(LRG)
    replace_function(ws, INBOX, "list_conversations_with_latest_message", code, drop=("latest_message",))
    result, checks = ws.check()
    assert not result.passed and not checks[broken].passed, explain(result)


def test_latest_row_per_group_rewrite_tool_on_the_case(workspaces):
    """suggest_rewrites on the query the loop runs, over the conversations the log shows."""
    from tools.rewrites.tool import RewriteOptions, suggest_rewrites

    ws = workspaces(LRG)
    query = load_case(LRG).workload[1]
    log = (ws.path / "log/dev.log").read_text()
    ids = [int(x) for x in re.findall(r'LIMIT 1 \[(\d+)\]', log)]
    report = suggest_rewrites(query.sql, query.params, ws.url, RewriteOptions(group_values=ids))
    (finding,) = [f for f in report.findings if f.id == "latest-per-group"]
    assert finding.status == "proposed"
    lateral = next(c for c in finding.candidates if c.label == "LATERAL join")
    assert lateral.before.runs == 50 and lateral.same_rows
    assert "parent_as(:conversation)" in lateral.ecto


# ---- dashboard-materialized-view ----------------------------------------------------------------

MV = "dashboard-materialized-view"
REPORTS = "lib/shopfloor/reports.ex"


def _mv_proposal(ws: Workspace):
    from tools.matviews.tool import MatviewOptions, materialized_view_advice

    query = load_case(MV).workload[0]
    report = materialized_view_advice(ws.url, MatviewOptions(sql=query.sql, params=query.params, app="Shopfloor"))
    (proposal,) = report.proposals
    return proposal


def _mv_fix(ws: Workspace, proposal, *, migration: str | None = None, refresh: str | None = None,
            read_view: bool = True) -> None:
    ws.write(f"priv/repo/migrations/20240701090000_create_{proposal.view}.exs", migration or proposal.migration)
    module = proposal.ecto_schema.split()[1]
    ws.write(f"lib/shopfloor/reports/{proposal.view}.ex", proposal.ecto_schema + "\n")
    worker = (refresh or proposal.refresh).split("defmodule", 1)[1].split("\nend", 1)[0]
    worker_module = worker.split()[0]
    ws.write(f"lib/shopfloor/workers/refresh_{proposal.view}.ex", "defmodule" + worker + "\nend\n")
    ws.replace("config/config.exs", "crontab: []", f'crontab: [{{"*/5 * * * *", {worker_module}}}]')
    if read_view:
        short = module.rsplit(".", 1)[-1]
        replace_function(ws, REPORTS, "daily_revenue_by_category", f"""
            def daily_revenue_by_category(limit \\\\ 300) do
              from(r in {short},
                order_by: [desc: r.day, asc: r.category],
                limit: ^limit,
                select: %{{day: r.day, category: r.category, orders: r.count_id, revenue_cents: r.sum}}
              )
              |> Repo.all()
            end
        """)
        ws.replace(REPORTS, "  alias Shopfloor.Catalog.Product\n", f"  alias Shopfloor.Catalog.Product\n  alias {module}\n")


def test_dashboard_materialized_view_untouched_fails(workspaces):
    result, checks = workspaces(MV).check()
    assert not result.passed
    assert "no materialized view" in checks["a materialized view with a unique index holds the panel's figures"].detail
    assert checks["nothing else changed"].passed


def test_dashboard_materialized_view_proposal_passes(workspaces):
    ws = workspaces(MV)
    proposal = _mv_proposal(ws)
    assert proposal.verification.same_rows is True
    assert proposal.keys == ["day", "category"]
    _mv_fix(ws, proposal)
    result, _ = ws.check()
    assert result.passed, explain(result)


@pytest.mark.parametrize("variant, broken", [
    ("plain-view", "a materialized view with a unique index holds the panel's figures"),
    ("no-unique-index", "a materialized view with a unique index holds the panel's figures"),
    ("refunds-included", "a materialized view with a unique index holds the panel's figures"),
    ("blocking-refresh", "the view is refreshed CONCURRENTLY on a schedule"),
    ("still-aggregating", "the panel reads the view instead of aggregating the orders"),
])
def test_dashboard_materialized_view_wrong_fixes_fail(workspaces, variant, broken):
    ws = workspaces(MV)
    proposal = _mv_proposal(ws)
    migration, refresh, read_view = proposal.migration, None, True
    if variant == "plain-view":
        migration = migration.replace("CREATE MATERIALIZED VIEW", "CREATE VIEW").replace(
            f"    create unique_index(:{proposal.view}, [:day, :category])\n", "").replace(
            "DROP MATERIALIZED VIEW", "DROP VIEW")
    elif variant == "no-unique-index":
        migration = migration.replace("create unique_index(", "create index(")
    elif variant == "refunds-included":
        migration = migration.replace(" WHERE o0.status = 'paid'", "")
    elif variant == "blocking-refresh":
        refresh = proposal.refresh.replace("REFRESH MATERIALIZED VIEW CONCURRENTLY", "REFRESH MATERIALIZED VIEW")
    elif variant == "still-aggregating":
        read_view = False
    _mv_fix(ws, proposal, migration=migration, refresh=refresh, read_view=read_view)
    result, checks = ws.check()
    assert not result.passed and not checks[broken].passed, explain(result)


# ---- partition-time-series ----------------------------------------------------------------------

PT = "partition-time-series"


def _pt_proposal(ws: Workspace):
    from tools.partitioning.tool import PartitioningOptions, partitioning_advice

    report = partitioning_advice(ws.url, PartitioningOptions(min_rows=100_000, app="Beacon"))
    (proposal,) = report.proposals
    return proposal


def _pt_fix(ws: Workspace, proposal, *, skip: tuple[str, ...] = (), edit=None, schedule: bool = True) -> None:
    for m in proposal.migrations:
        if any(s in m.path for s in skip):
            continue
        ws.write(m.path, (edit(m.content) if edit else m.content) + "\n")
    if schedule:
        worker = proposal.management.split("defmodule", 1)[1].split("\nend", 1)[0]
        ws.write("lib/beacon/analytics/create_page_views_partitions.ex", "defmodule" + worker + "\nend\n")
        ws.replace("config/config.exs", '{"15 3 * * *", Beacon.Analytics.PruneOldPageViews}',
                   '{"15 3 * * *", Beacon.Analytics.PruneOldPageViews},\n       '
                   f'{{"0 3 * * *", {worker.split()[0]}}}')


def test_partition_time_series_untouched_fails(workspaces):
    result, checks = workspaces(PT).check()
    assert not result.passed
    assert not checks["page_views is range-partitioned on inserted_at"].passed
    assert checks["nothing else changed"].passed


def test_partition_time_series_proposal_passes(workspaces):
    ws = workspaces(PT)
    proposal = _pt_proposal(ws)
    assert (proposal.strategy, proposal.key, proposal.interval) == ("range", "inserted_at", "month")
    assert proposal.blockers == []
    _pt_fix(ws, proposal)
    result, _ = ws.check()
    assert result.passed, explain(result)


COPY = """
defmodule Beacon.Repo.Migrations.PartitionPageViews do
  use Ecto.Migration

  def up do
    execute "CREATE TABLE page_views_new (LIKE page_views INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (inserted_at)"
    execute "ALTER TABLE page_views_new ADD PRIMARY KEY (id, inserted_at)"
    execute "CREATE TABLE page_views_old PARTITION OF page_views_new FOR VALUES FROM (MINVALUE) TO ('2024-07-01')"
    execute "CREATE TABLE page_views_p2024_07 PARTITION OF page_views_new FOR VALUES FROM ('2024-07-01') TO ('2024-08-01')"
    execute "INSERT INTO page_views_new SELECT * FROM page_views"
    execute "DROP TABLE page_views"
    execute "ALTER TABLE page_views_new RENAME TO page_views"
  end

  def down, do: :ok
end
"""


@pytest.mark.parametrize("variant, broken", [
    ("copy-rows", "the existing rows are attached, not copied"),
    ("attach-without-check", "ATTACH PARTITION is proved by a constraint, no scan or index build under its lock"),
    ("no-schedule", "future partitions are created on a schedule"),
    ("no-future-partition", "new rows find a partition now and next month"),
])
def test_partition_time_series_wrong_fixes_fail(workspaces, variant, broken):
    ws = workspaces(PT)
    proposal = _pt_proposal(ws)
    if variant == "copy-rows":
        ws.write("priv/repo/migrations/20240701090000_partition_page_views.exs", COPY)
        _pt_fix(ws, proposal, skip=tuple(m.path for m in proposal.migrations))
    elif variant == "attach-without-check":
        _pt_fix(ws, proposal, skip=("before_cutoff",))
    elif variant == "no-schedule":
        _pt_fix(ws, proposal, schedule=False)
    elif variant == "no-future-partition":
        cutoff = proposal.cutoff[:10]

        def early(content: str) -> str:
            content = content.replace(cutoff, "2024-07-01")
            return "\n".join(line for line in content.splitlines() if "PARTITION OF page_views_partitioned" not in line)
        _pt_fix(ws, proposal, edit=early)
    result, checks = ws.check()
    assert not result.passed and not checks[broken].passed, explain(result)
