"""The linter end to end: files, history, suppression comments, config, --since, output formats,
the CLI's exit codes, --fix, the agent tool, and the eval case's pending migrations."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.base import ToolContext
from tools.errors import InputError
from tools.migrations.fix import plan_fixes
from tools.migrations.lint import lint_paths, module_source
from tools.migrations.sarif import to_sarif
from tools.migrations.tool import CheckMigrations

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "migrations"
CASE = REPO / "evals" / "cases" / "unsafe-migration" / "project"
CASE_PENDING = "20240612000000"


def write(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(module_source(textwrap.dedent(body).strip("\n"), name.split("_", 1)[1].split(".")[0].title()
                                  .replace("_", "")))
    return path


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "mix.exs").write_text("defmodule App.MixProject do\nend\n")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.exs").write_text("import Config\nconfig :app, App.Repo, pool_size: 10\n")
    return tmp_path


def migrations(project: Path) -> Path:
    return project / "priv" / "repo" / "migrations"


def found(result) -> list[tuple[str, str, int]]:
    return [(Path(f.file).name, f.rule, f.line) for f in result.findings]


# ---- the fixtures -------------------------------------------------------------------------------

def test_fixture_migrations():
    result = lint_paths([FIXTURES])
    serious = {(n, r, line) for n, r, line in found(result)
               if r not in ("prefer-text", "prefer-identity", "prefer-timestamptz", "missing-lock-timeout")}
    assert serious == {
        ("20240103090000_add_slug_to_posts.exs", "index-not-concurrent", 25),
        ("20240103090000_add_slug_to_posts.exs", "index-not-concurrent", 26),
        ("20240105090000_add_posts_triggers_and_checks.exs", "validate-in-same-transaction", 22),
        ("20240106090000_backfill_post_slugs.exs", "unbatched-backfill", 10),
        ("20240106090000_backfill_post_slugs.exs", "unbatched-backfill", 12),
        ("20240106090000_backfill_post_slugs.exs", "data-change-in-schema-migration", 18),
    }
    assert result.has_errors
    assert len(result.checked) == 6


def test_malformed_elixir_is_one_line_input_error():
    with pytest.raises(InputError) as exc:
        lint_paths([FIXTURES / "invalid"])
    assert "20240107090000_broken.exs" in str(exc.value) and "line 6" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        lint_paths([tmp_path / "nope"])
    with pytest.raises(InputError, match="no migration files"):
        lint_paths([tmp_path])


def test_one_file_still_reads_its_siblings_for_history(project):
    d = migrations(project)
    write(d, "20240101000000_create_posts.exs", """
        def change do
          create table(:posts) do
            add :title, :string
          end
        end""")
    target = write(d, "20240102000000_widen_title.exs", """
        def change do
          alter table(:posts) do
            modify :title, :text
          end
        end""")
    result = lint_paths([target])
    assert [f.display for f in result.checked] == [str(target)]
    change = [f for f in result.findings if f.rule == "column-type-change"]
    assert change and change[0].severity == "info"


def test_since_checks_only_newer_migrations(project):
    d = migrations(project)
    write(d, "20240101000000_a.exs", "def change do\n  create index(:posts, [:a])\nend")
    write(d, "20240201000000_b.exs", "def change do\n  create index(:posts, [:b])\nend")
    result = lint_paths([d], since="20240101000000")
    assert [Path(f.file).name for f in result.findings if f.rule == "index-not-concurrent"] == ["20240201000000_b.exs"]
    with pytest.raises(InputError, match="--since"):
        lint_paths([d], since="last-week")


# ---- suppression --------------------------------------------------------------------------------

def test_excellent_migrations_comments_are_honoured(project):
    d = migrations(project)
    write(d, "20240101000000_a.exs", """
        def change do
          # excellent_migrations:safety-assured-for-next-line index_not_concurrently
          create index(:posts, [:a])
          create index(:posts, [:b])
          alter table(:posts) do
            # excellent_migrations:safety-assured-for-next-line column_reference_added
            add :user_id, references(:users)
          end
        end""")
    rules = [(r, line) for _, r, line in found(lint_paths([d])) if r in ("index-not-concurrent", "foreign-key-validated")]
    assert rules == [("index-not-concurrent", 7)]


def test_file_level_and_our_own_comments(project):
    d = migrations(project)
    write(d, "20240101000000_a.exs", """
        # excellent_migrations:safety-assured-for-this-file column_type_changed
        def change do
          alter table(:posts) do
            modify :views, :bigint, from: :integer
          end
          create index(:posts, [:a]) # ecto-optimizer:ignore index-not-concurrent
          # ecto-optimizer:ignore
          create index(:posts, [:b])
          create index(:posts, [:c])
          execute "SELECT '# ecto-optimizer:ignore-file'"
        end""")
    result = lint_paths([d])
    assert [(r, line) for _, r, line in found(result) if r in ("index-not-concurrent", "column-type-change")] == \
        [("index-not-concurrent", 12)]
    assert result.suppressed >= 3


def test_a_comment_above_alter_table_covers_its_columns(project):
    d = migrations(project)
    write(d, "20240101000000_a.exs", """
        def change do
          # ecto-optimizer:ignore foreign-key-validated
          alter table(:posts) do
            add :user_id, references(:users)
          end
        end""")
    assert "foreign-key-validated" not in [r for _, r, _ in found(lint_paths([d]))]


# ---- config -------------------------------------------------------------------------------------

def test_toml_config_disables_overrides_and_sets_since(project):
    d = migrations(project)
    write(d, "20240101000000_a.exs", "def change do\n  create index(:posts, [:a])\nend")
    write(d, "20240201000000_b.exs", "def change do\n  create index(:posts, [:b])\n  rename table(:posts), :a, to: :b\nend")
    (project / ".ecto-optimizer.toml").write_text(
        '[migrations]\ndisable = ["prefer-text", "missing_lock_timeout_is_not_a_rule"]\n')
    with pytest.raises(InputError, match="unknown rule"):
        lint_paths([d])
    (project / ".ecto-optimizer.toml").write_text(
        '[migrations]\ndisable = ["index_not_concurrently"]\nsince = "20240101000000"\n'
        'severity = { "rename-column" = "warning" }\n')
    result = lint_paths([d])
    assert [(Path(f.file).name, f.rule, f.severity) for f in result.findings if f.severity != "info"] == \
        [("20240201000000_b.exs", "rename-column", "warning")]
    assert not result.has_errors


@pytest.mark.parametrize("text,message", [
    ('{"disable": "index-not-concurrent"}', "must be a list"),
    ('{"colour": 1}', "unknown config key"),
    ('{"severity": {"index-not-concurrent": "fatal"}}', "must be error, warning, info or off"),
    ('{"pg_version": "15"}', "pg_version"),
    ('{not json', "cannot read config"),
])
def test_bad_json_config_is_one_line(project, text, message):
    write(migrations(project), "20240101000000_a.exs", "def change do\n  create index(:posts, [:a])\nend")
    (project / ".ecto-optimizer-migrations.json").write_text(text)
    with pytest.raises(InputError, match=message) as exc:
        lint_paths([migrations(project)])
    assert "\n" not in str(exc.value)


def test_repo_config_and_excellent_migrations_config_are_read(project):
    (project / "config" / "config.exs").write_text(textwrap.dedent("""
        import Config
        config :app, App.Repo, migration_lock: :pg_advisory_lock, parameters: [lock_timeout: "5s"],
          migration_timestamps: [type: :utc_datetime_usec]
        config :excellent_migrations, skip_checks: [:column_renamed], start_after: "20240101000000"
        """))
    d = migrations(project)
    write(d, "20240101000000_old.exs", "def change do\n  create index(:posts, [:old])\nend")
    write(d, "20240201000000_new.exs", """
        @disable_ddl_transaction true

        def change do
          create index(:posts, [:slug], concurrently: true)
        end""")
    write(d, "20240301000000_rename.exs", "def change do\n  rename table(:posts), :a, to: :b\nend")
    assert found(lint_paths([d])) == []


def test_remove_column_reads_the_apps_schemas(project):
    lib = project / "lib" / "app"
    lib.mkdir(parents=True)
    (lib / "user.ex").write_text(textwrap.dedent("""
        defmodule App.User do
          use Ecto.Schema
          schema "users" do
            field :email, :string
            field :nick, :string, source: :nickname
            field :full, :string, virtual: true
            belongs_to :team, App.Team
          end
        end"""))
    d = migrations(project)
    write(d, "20240101000000_a.exs", """
        def change do
          alter table(:users) do
            remove :nickname
            remove :team_id
            remove :full
            remove :legacy
          end
        end""")
    sev = {f.message.split()[0]: f.severity for f in lint_paths([d]).findings if f.rule == "remove-column"}
    assert sev == {"users.nickname": "warning", "users.team_id": "warning", "users.full": "info",
                   "users.legacy": "info"}


# ---- output formats -----------------------------------------------------------------------------

def test_json_shape():
    data = lint_paths([FIXTURES]).as_json()
    assert set(data) >= {"files", "findings"}
    assert len(data["files"]) == 6
    for f in data["findings"]:
        assert set(f) == {"rule", "severity", "file", "line", "message", "lock", "fix"}
    assert json.dumps(data)


def test_sarif_for_code_scanning():
    result = lint_paths([FIXTURES])
    sarif = to_sarif(result, base=REPO)
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"index-not-concurrent", "foreign-key-validated"}
    assert all(r["defaultConfiguration"]["level"] in ("error", "warning", "note") for r in rules)
    first = run["results"][0]
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].startswith("tests/fixtures/migrations/")
    assert loc["region"]["startLine"] >= 1
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"]
    assert len(run["results"]) == len(result.findings)


# ---- CLI ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli():
    import typer

    from agent.cli_migrations import register

    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps typer from collapsing the app into one command
    def noop() -> None:
        pass

    return app


def run(cli, *args, cwd: Path | None = None):
    import os

    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        return CliRunner().invoke(cli, ["check-migrations", *args])
    finally:
        os.chdir(old)


def test_cli_exit_codes(cli, project):
    assert run(cli, str(FIXTURES)).exit_code == 1
    assert run(cli, str(FIXTURES / "20240104090000_index_posts_slug_concurrently.exs")).exit_code == 0
    bad = run(cli, str(FIXTURES / "invalid"))
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "line 6" in bad.output
    assert run(cli, "missing/dir").exit_code == 2
    assert run(cli, str(FIXTURES), "--since", "soon").exit_code == 2
    assert run(cli, str(FIXTURES), "--trace-locks").exit_code == 2


def test_cli_default_path_json_and_sarif(cli, project):
    write(migrations(project), "20240101000000_a.exs", "def change do\n  create index(:posts, [:a])\nend")
    out = run(cli, "--json", cwd=project)
    assert out.exit_code == 1
    data = json.loads(out.output)
    assert data["files"] == ["priv/repo/migrations/20240101000000_a.exs"]
    assert data["findings"][0]["rule"] == "index-not-concurrent"
    sarif = json.loads(run(cli, "--format", "sarif", cwd=project).output)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "index-not-concurrent"


# ---- --fix and the eval case's pending migrations -----------------------------------------------

@pytest.mark.skipif(not CASE.is_dir(), reason="eval case unsafe-migration not present")
def test_eval_case_pending_migrations_are_flagged():
    result = lint_paths([CASE / "priv" / "repo" / "migrations"], since=CASE_PENDING)
    errors = sorted((Path(f.file).name, f.rule) for f in result.findings if f.severity == "error")
    assert errors == [
        ("20240612091600_add_coupon_to_orders.exs", "foreign-key-validated"),
        ("20240612091600_add_coupon_to_orders.exs", "index-not-concurrent"),
        ("20240612093000_add_orders_customer_id_index.exs", "index-not-concurrent"),
    ]
    fk = next(f for f in result.findings if f.rule == "foreign-key-validated")
    assert "orders_coupon_id_fkey" in fk.fix and "on_delete: :nilify_all" in fk.fix


@pytest.mark.skipif(not CASE.is_dir(), reason="eval case unsafe-migration not present")
def test_fix_makes_the_eval_case_safe_and_is_idempotent(cli, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(CASE, project)
    out = run(cli, "--since", CASE_PENDING, "--fix", cwd=project)
    assert out.exit_code == 0, out.output
    d = project / "priv" / "repo" / "migrations"
    names = sorted(p.name for p in d.glob("2024061*.exs"))
    assert names == ["20240612091500_create_coupons.exs", "20240612091600_add_coupon_to_orders.exs",
                     "20240612091601_add_coupon_to_orders_concurrent_indexes.exs",
                     "20240612091602_add_coupon_to_orders_validate_constraints.exs",
                     "20240612093000_add_orders_customer_id_index.exs"]
    validate = (d / "20240612091602_add_coupon_to_orders_validate_constraints.exs").read_text()
    assert 'execute "ALTER TABLE orders VALIDATE CONSTRAINT orders_coupon_id_fkey", ""' in validate
    index = (d / "20240612091601_add_coupon_to_orders_concurrent_indexes.exs").read_text()
    assert "@disable_ddl_transaction true" in index and "@disable_migration_lock true" in index
    assert "create index(:orders, [:coupon_id], concurrently: true)" in index
    assert "validate: false" in (d / "20240612091600_add_coupon_to_orders.exs").read_text()
    again = lint_paths([d], since=CASE_PENDING)
    assert not again.has_errors
    assert plan_fixes(again).changed == {}


@pytest.mark.skipif(not CASE.is_dir(), reason="eval case unsafe-migration not present")
def test_eval_case_check_agrees_with_the_fixed_migrations(tmp_path):
    """The case's migrations_safe check (evals/checks.py) passes on what --fix writes."""
    from evals.checks import _created_tables, safe_concurrent_problems
    from tools.ecto.migration import CreateIndex, parse_migration

    project = tmp_path / "project"
    shutil.copytree(CASE, project)
    d = project / "priv" / "repo" / "migrations"
    plan_fixes(lint_paths([d], since=CASE_PENDING)).write()
    for path in sorted(d.glob("2024061*.exs")):
        mig = parse_migration(path.read_text(), path=str(path))
        ops = (mig.change or mig.up).ops
        for op in ops:
            if isinstance(op, CreateIndex) and str(op.index.table) not in _created_tables(mig):
                assert op.index.opts.get("concurrently") is True
                assert safe_concurrent_problems(mig) == []


def test_fix_keeps_up_down_pairs_and_says_so(project):
    d = migrations(project)
    write(d, "20240101000000_a.exs", """
        def up do
          alter table(:posts) do
            add :slug, :text
          end
          create index(:posts, [:slug])
        end

        def down do
          drop index(:posts, [:slug])
          alter table(:posts) do
            remove :slug
          end
        end""")
    plan = plan_fixes(lint_paths([d]))
    assert any("by hand" in n for n in plan.notes)
    assert plan.created == []


def test_fix_adds_attributes_when_the_migration_is_only_indexes(project):
    d = migrations(project)
    path = write(d, "20240101000000_a.exs", """
        def change do
          create index(:posts, [:a])
          create unique_index(:posts, [:b], where: "b IS NOT NULL")
        end""")
    plan_fixes(lint_paths([d])).write()
    text = path.read_text()
    assert text.count("concurrently: true") == 2 and "@disable_ddl_transaction true" in text
    assert not lint_paths([d]).has_errors


# ---- the agent tool -----------------------------------------------------------------------------

@pytest.mark.skipif(not CASE.is_dir(), reason="eval case unsafe-migration not present")
def test_agent_tool(tmp_path):
    tool = CheckMigrations()
    ctx = ToolContext(project_root=CASE)
    text = tool.run({"since": CASE_PENDING}, ctx)
    assert "[foreign-key-validated]" in text and "[prefer-text]" not in text
    data = json.loads(tool.run({"since": CASE_PENDING, "format": "json", "fix_preview": True}, ctx))
    assert "+++ priv/repo/migrations/20240612091602_add_coupon_to_orders_validate_constraints.exs" in data["fix_preview"]
    assert not any(p.name.startswith("20240612091601") for p in (CASE / "priv/repo/migrations").iterdir())
    with pytest.raises(InputError, match="outside the project"):
        tool.run({"paths": ["../../"]}, ctx)
    ctx_db = ToolContext(project_root=CASE, database_url="postgresql://u@127.0.0.1:1/x")
    assert "not traced" in tool.run({"since": CASE_PENDING, "trace_locks": True}, ctx_db)
