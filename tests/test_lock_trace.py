"""Lock tracing on a real PostgreSQL: the locks, rewrites and scans each statement of a migration
takes, observed in pg_locks / pg_class / pg_constraint, and always rolled back."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from tools.ecto.migration import parse_migration
from tools.ecto.migration_sql import migration_sql
from tools.errors import InputError
from tools.migrations.fix import plan_fixes
from tools.migrations.lint import lint_paths, module_source
from tools.migrations.locks import trace_migration

pytestmark = pytest.mark.db

SCHEMA = """
CREATE TABLE groups (id bigserial PRIMARY KEY);
CREATE TABLE posts (id bigserial PRIMARY KEY, title varchar(255), views integer);
INSERT INTO groups SELECT FROM generate_series(1, 10);
INSERT INTO posts (title, views) SELECT 'post ' || g, g FROM generate_series(1, 20000) g;
"""


@pytest.fixture
def scratch(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SCHEMA)
    return fresh_db


def trace(body: str, url: str):
    return trace_migration(parse_migration(module_source(body)), url, display="m.exs")


def locks_of(stmt) -> dict[str, str]:
    return {lk.relation: lk.mode for lk in stmt.locks}


def columns(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY 1",
            (table,)).fetchall()]


def test_volatile_default_rewrites_and_fk_validates_under_share_row_exclusive(scratch):
    t = trace("def change do\n  alter table(:posts) do\n"
              "    add :token, :uuid, default: fragment(\"gen_random_uuid()\")\n"
              "    add :group_id, references(:groups)\n  end\nend", scratch)
    [st] = t.statements
    assert st.ran and st.line == 5
    assert locks_of(st)["posts"] == "ACCESS EXCLUSIVE"
    assert locks_of(st)["groups"] == "SHARE ROW EXCLUSIVE"
    assert "table posts" in st.rewrites
    assert any("posts_group_id_fkey validated" in s for s in st.scans)
    assert columns(scratch, "posts") == ["id", "title", "views"]  # rolled back


def test_constant_default_is_metadata_only(scratch):
    [st] = trace("def change do\n  alter table(:posts) do\n    add :approved, :boolean, default: false\n"
                 "  end\nend", scratch).statements
    assert st.rewrites == [] and locks_of(st)["posts"] == "ACCESS EXCLUSIVE"


def test_index_check_not_null_and_type_change(scratch):
    t = trace("def up do\n  create index(:posts, [:title])\n"
              "  create constraint(:posts, :views_positive, check: \"views > 0\")\n"
              "  execute \"ALTER TABLE posts ALTER COLUMN title SET NOT NULL\"\n"
              "  alter table(:posts) do\n    modify :views, :bigint\n  end\n"
              "  alter table(:posts) do\n    modify :title, :text\n  end\nend", scratch)
    index, check, not_null, bigint, text = t.statements
    assert locks_of(index)["posts"] == "SHARE"
    assert locks_of(index)["posts_title_index"] == "ACCESS EXCLUSIVE"
    assert [lk for lk in index.locks if lk.relation == "posts_title_index"][0].new_relation
    assert any("views_positive" in s for s in check.scans)
    assert any("posts.title checked for NULLs" in s for s in not_null.scans)
    assert "table posts" in bigint.rewrites
    assert "table posts" not in text.rewrites  # varchar -> text is binary compatible
    first = [lk for lk in index.locks if lk.relation == "posts"][0]
    assert first.held_ms == pytest.approx(sum(s.duration_ms for s in t.statements))
    assert first.blocks == "blocks INSERT, UPDATE and DELETE"


def test_concurrently_is_reported_not_run_and_holds_only_per_statement(scratch):
    t = trace("@disable_ddl_transaction true\n@disable_migration_lock true\n\ndef change do\n"
              "  alter table(:posts) do\n    add :slug, :text\n  end\n"
              "  create index(:posts, [:slug], concurrently: true)\nend", scratch)
    alter, index = t.statements
    assert not t.in_transaction
    assert not index.ran and "not run" in t.text() and "SHARE UPDATE EXCLUSIVE" in index.note
    assert alter.locks[0].held_ms == pytest.approx(alter.duration_ms)


def test_dynamic_code_and_a_failing_statement(scratch):
    t = trace("def up do\n  repo().update_all(\"posts\", set: [views: 0])\n"
              "  alter table(:missing) do\n    add :x, :int\n  end\nend", scratch)
    assert any("only known when the migration runs" in n for n in t.notes)
    assert t.error and "line 6" in t.error and "missing" in t.error


def test_bad_url_is_one_line():
    with pytest.raises(InputError, match="cannot connect") as exc:
        trace("def change do\n  create index(:posts, [:a])\nend", "postgresql://nobody@127.0.0.1:1/none")
    assert "\n" not in str(exc.value)


def test_cli_trace_on_the_eval_case_after_fix(tmp_path, pg_server, fresh_db):
    """--fix output applied on a database with the case's deployed schema: every statement runs,
    the foreign key ends up validated by its real name, and the trace shows no rewrite."""
    case = Path(__file__).resolve().parent.parent / "evals" / "cases" / "unsafe-migration" / "project"
    if not case.is_dir():
        pytest.skip("eval case unsafe-migration not present")
    project = tmp_path / "p"
    shutil.copytree(case, project)
    d = project / "priv" / "repo" / "migrations"
    result = lint_paths([d])
    deployed = [f for f in result.files if f.version and f.version < 20240612000000]
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for f in deployed:
            for st in migration_sql(f.migration, "up"):
                conn.execute(st.sql)
    plan_fixes(lint_paths([d], since="20240612000000")).write()
    fixed = lint_paths([d], since="20240612000000")
    from tools.migrations.tool import trace_checked

    traces = trace_checked(fixed, fresh_db)
    assert all(t.error is None for t in traces), [t.error for t in traces]
    assert not any("table orders" in r for t in traces for s in t.statements for r in s.rewrites)
    validate = [s for t in traces for s in t.statements if "VALIDATE CONSTRAINT orders_coupon_id_fkey" in s.sql]
    assert validate and validate[0].ran
    assert locks_of(validate[0])["orders"] == "SHARE UPDATE EXCLUSIVE"
