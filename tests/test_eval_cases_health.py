"""The eval case fk-index-cascading-delete, judged end to end: prepared once on the test run's
server, the untouched project fails its checks, hand-written correct fixes pass, and the wrong
fixes a hurried engineer might write fail, each for the reason expected. Between variants the
workspace's files go back to their prepared state; the checks rebuild their scratch database
from the pristine template every time."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import STATE_DIR, clean, prepare

pytestmark = pytest.mark.db

CASE = "fk-index-cascading-delete"
INDEX = "safe index migration on notifications.user_id"
CHEAPER = "the cascade's lookup of a user's notifications gets at least 10x cheaper"
SAFE = "every new migration is safe to run in production"
UNTOUCHED = "nothing else changed"
MIGRATION = "priv/repo/migrations/20240610120000_add_notifications_user_id_index.exs"


class Workspace:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pristine = load_case(CASE).project_dir
        self.last_report = ""

    def reset(self) -> None:
        for child in self.path.iterdir():
            if child.name != STATE_DIR:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(self.pristine, self.path, dirs_exist_ok=True)

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip("\n"))

    def failing(self) -> set[str]:
        result = check_workspace(CASE, self.path)
        self.last_report = "\n".join(f"{'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in result.checks)
        failed = {c.name for c in result.checks if not c.passed}
        assert result.passed == (not failed), self.last_report
        return failed


@pytest.fixture(scope="module")
def prepared(pg_server, tmp_path_factory):
    path = tmp_path_factory.mktemp(CASE)
    prepare(CASE, path, server_url=pg_server.url())
    try:
        yield Workspace(path)
    finally:
        clean(path)


@pytest.fixture
def ws(prepared):
    prepared.reset()
    return prepared


def migration(body: str, *, attributes: str = "@disable_ddl_transaction true\n  @disable_migration_lock true") -> str:
    return f"""
defmodule Herald.Repo.Migrations.AddNotificationsUserIdIndex do
  use Ecto.Migration
  {attributes}

  def change do
    {body}
  end
end
"""


def test_the_case_is_well_formed():
    case = load_case(CASE)
    assert case.kind == "index" and case.task.endswith(".")
    assert "index" not in case.task.lower()  # the task is a symptom, not the answer
    assert {c.kind for c in case.checks} == {"any_of", "query_improves", "migrations_safe", "untouched"}


def test_untouched_fails(ws):
    assert ws.failing() == {INDEX, CHEAPER, SAFE}, ws.last_report


def test_the_health_check_finds_the_cause(ws):
    """What the agent's db_health tool reports on the case database, with the fix it needs."""
    from evals.workspace import State
    from tools.health.runner import run_health

    report = run_health(State.load(ws.path).database_url, only=["fk-without-index"])
    (finding,) = report.findings
    assert finding.object == "notifications.user_id" and finding.severity == "warning"
    assert "ON DELETE CASCADE" in finding.message
    ws.write(MIGRATION, finding.fix.ecto.split("\n", 1)[1])  # its own migration, minus the path comment
    assert ws.failing() == set(), ws.last_report


@pytest.mark.parametrize("body", [
    "create index(:notifications, [:user_id], concurrently: true)",
    "create index(:notifications, [:user_id, :inserted_at], concurrently: true)",
    "create_if_not_exists index(:notifications, [:user_id], concurrently: true)",
    "create index(\"notifications\", [\"user_id\"], name: :notifications_user_id_idx, concurrently: true)",
], ids=["user_id", "user_id-inserted_at", "if-not-exists", "strings-and-a-name"])
def test_correct_fix_passes(ws, body):
    ws.write(MIGRATION, migration(body))
    assert ws.failing() == set(), ws.last_report


def test_partial_index_like_the_existing_one_fails(ws):
    # Looks right to index_migration, but the cascade's DELETE has no read_at filter.
    ws.write(MIGRATION, migration(
        'create index(:notifications, [:user_id], where: "read_at IS NULL", concurrently: true)'))
    assert ws.failing() == {CHEAPER}, ws.last_report


def test_index_with_the_key_second_fails(ws):
    ws.write(MIGRATION, migration("create index(:notifications, [:kind, :user_id], concurrently: true)"))
    assert ws.failing() == {INDEX, CHEAPER}, ws.last_report


def test_index_built_under_lock_fails(ws):
    ws.write(MIGRATION, migration("create index(:notifications, [:user_id])", attributes=""))
    assert ws.failing() == {INDEX, SAFE}, ws.last_report


def test_concurrent_index_behind_the_migration_lock_fails(ws):
    ws.write(MIGRATION, migration("create index(:notifications, [:user_id], concurrently: true)",
                                  attributes="@disable_ddl_transaction true"))
    assert ws.failing() == {INDEX, SAFE}, ws.last_report


def test_deleting_notifications_in_the_app_instead_fails(ws):
    ws.write("lib/herald/accounts.ex", (ws.pristine / "lib/herald/accounts.ex").read_text().replace(
        "    Repo.delete(user)",
        "    Repo.delete_all(from n in Herald.Notifications.Notification, where: n.user_id == ^user.id)\n"
        "    Repo.delete(user)"))
    assert ws.failing() == {INDEX, CHEAPER, SAFE, UNTOUCHED}, ws.last_report
