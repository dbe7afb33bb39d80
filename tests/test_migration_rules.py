"""The migration rule catalogue: every rule documented like a ruff rule, every documented example
run as a test, and the facts the rules rest on (type changes, default volatility, Ecto's names)."""

from __future__ import annotations

import pytest

from tools.migrations.actions import PgType, default_of_sql, ecto_pg_type
from tools.ecto.elixir import Atom
from tools.migrations.lint import lint_source, module_source, run_example
from tools.migrations.rules import EXCELLENT_MIGRATIONS, RULES, catalogue, rule, rule_ids
from tools.migrations.rules.base import SEVERITIES, Settings
from tools.migrations.rules.column_type_change import rewrite_needed

# The issue's coverage list, by rule id.
REQUIRED = {
    "index-not-concurrent", "concurrent-index-in-transaction", "concurrent-index-migration-lock",
    "concurrent-index-not-alone", "drop-index-not-concurrent", "foreign-key-validated",
    "check-constraint-validated", "validate-in-same-transaction", "volatile-default",
    "column-type-change", "modify-null-or-default", "set-not-null", "remove-column", "rename-column",
    "rename-table", "unique-constraint-without-index", "json-column", "data-change-in-schema-migration",
    "drop-table", "primary-key-type-change", "enum-value-change", "unbatched-backfill",
    "identifier-too-long", "prefer-timestamptz", "prefer-identity", "prefer-text",
}

EXAMPLES = [pytest.param(r, i, ex, id=f"{r.id}-{i}-{'fires' if ex.fires else 'quiet'}")
            for r in RULES for i, ex in enumerate(r.examples)]


def findings(body: str, *, before=(), rules=None, **settings):
    return lint_source(module_source(body), before=[module_source(b, f"B{i}") for i, b in enumerate(before)],
                       settings=Settings(**settings), rules=rules)


def ids(found) -> list[str]:
    return [f.rule for f in found]


# ---- the catalogue ------------------------------------------------------------------------------

def test_ids_are_unique_and_cover_the_issue():
    all_ids = rule_ids()
    assert len(all_ids) == len(set(all_ids))
    assert REQUIRED <= set(all_ids)


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.id)
def test_rule_is_a_documented_unit(r):
    for attr in ("title", "catches", "why", "lock", "safe"):
        assert isinstance(getattr(r, attr), str) and getattr(r, attr).strip(), attr
    assert r.severity in SEVERITIES
    assert r.__doc__ and len(r.__doc__.strip()) > 40
    assert any(ex.fires for ex in r.examples) and any(not ex.fires for ex in r.examples)
    assert type(r).__module__.rsplit(".", 1)[-1] == r.id.replace("-", "_")


def test_style_rules_are_info_only():
    for rid in ("prefer-timestamptz", "prefer-identity", "prefer-text"):
        assert rule(rid).severity == "info"


def test_catalogue_and_excellent_migrations_names():
    docs = catalogue()
    assert [d["id"] for d in docs] == rule_ids()
    for name in ("index_not_concurrently", "column_reference_added", "check_constraint_added",
                 "column_type_changed", "not_null_added", "column_removed", "table_dropped",
                 "column_renamed", "table_renamed", "json_column_added", "operation_update",
                 "raw_sql_executed", "index_concurrently_without_disable_ddl_transaction",
                 "index_concurrently_without_disable_migration_lock", "column_volatile_default",
                 "many_columns_index", "operation_insert", "operation_delete"):
        assert name in EXCELLENT_MIGRATIONS, name


@pytest.mark.parametrize("r,i,example", EXAMPLES)
def test_example(r, i, example):
    found = run_example(r.id, example)
    if not example.fires:
        assert found == [], [f.message for f in found]
        return
    assert found, f"{r.id} example {i} should fire ({example.note})"
    if example.severity:
        assert found[0].severity == example.severity, found[0].message
    if example.count is not None:
        assert len(found) == example.count


# ---- facts the rules rest on --------------------------------------------------------------------

@pytest.mark.parametrize("old,new,rewrite", [
    (PgType("varchar", (100,)), PgType("varchar", (255,)), False),
    (PgType("varchar", (255,)), PgType("varchar", (100,)), True),
    (PgType("varchar", (255,)), PgType("varchar"), False),
    (PgType("varchar", (255,)), PgType("text"), False),
    (PgType("text"), PgType("varchar"), False),
    (PgType("text"), PgType("varchar", (20,)), True),
    (PgType("numeric", (8, 2)), PgType("numeric", (10, 2)), False),
    (PgType("numeric", (8, 2)), PgType("numeric", (8, 4)), True),
    (PgType("numeric", (8, 2)), PgType("numeric"), False),
    (PgType("timestamp", (0,)), PgType("timestamp"), False),  # :naive_datetime -> _usec
    (PgType("timestamp"), PgType("timestamp", (0,)), True),
    (PgType("timestamp", (0,)), PgType("timestamptz", (0,)), None),
    (PgType("int4"), PgType("int8"), True),
    (PgType("text"), PgType("citext"), False),
    (PgType("cidr"), PgType("inet"), False),
    (PgType("uuid"), PgType("text"), True),
])
def test_which_type_changes_rewrite(old, new, rewrite):
    assert rewrite_needed(old, new, 15)[0] is rewrite


def test_timestamptz_rewrites_before_pg12():
    assert rewrite_needed(PgType("timestamp"), PgType("timestamptz"), 11)[0] is True


@pytest.mark.parametrize("sql,volatile", [
    ("gen_random_uuid()", True), ("now()", False), ("CURRENT_TIMESTAMP", False), ("clock_timestamp()", True),
    ("'x'::text", False), ("42", False), ("uuid_generate_v4()", True),
    ("json_build_object('id', uuid_generate_v4()::text)::jsonb", True),
    ("my_function()", None), ("(now() at time zone 'utc')", False), ("nextval('s')", True),
])
def test_default_volatility(sql, volatile):
    assert default_of_sql(sql).volatile is volatile


@pytest.mark.parametrize("ecto,opts,pg", [
    (Atom("string"), {}, "varchar(255)"), (Atom("string"), {"size": 40}, "varchar(40)"),
    (Atom("map"), {}, "jsonb"), (Atom("naive_datetime"), {}, "timestamp(0)"),
    (Atom("utc_datetime_usec"), {}, "timestamp"), (Atom("decimal"), {"precision": 10, "scale": 2}, "numeric(10,2)"),
    (Atom("binary_id"), {}, "uuid"), (("array", Atom("string")), {}, "varchar(255)[]"), (Atom("id"), {}, "integer"),
])
def test_ecto_types_map_as_ecto_does(ecto, opts, pg):
    assert str(ecto_pg_type(ecto, opts)) == pg


def test_foreign_key_fix_uses_ectos_real_constraint_name():
    found = findings("def change do\n  alter table(:posts) do\n    add :group_id, references(:groups)\n"
                     "  end\nend", rules=["foreign-key-validated"])
    assert "ALTER TABLE posts VALIDATE CONSTRAINT posts_group_id_fkey" in found[0].fix
    assert "VALIDATE CONSTRAINT group_id_fkey" not in found[0].fix  # the guides' wrong name


def test_explicit_foreign_key_name_is_kept():
    found = findings("def change do\n  alter table(:posts) do\n"
                     "    add :group_id, references(:groups, name: :posts_group_fk, on_delete: :delete_all)\n"
                     "  end\nend", rules=["foreign-key-validated"])
    assert "VALIDATE CONSTRAINT posts_group_fk" in found[0].fix
    assert "on_delete: :delete_all, validate: false" in found[0].fix


def test_concurrent_index_needs_both_attributes_or_advisory_lock():
    body = "def change do\n  create index(:posts, [:slug], concurrently: true)\nend"
    assert set(ids(findings(body))) >= {"concurrent-index-in-transaction", "concurrent-index-migration-lock"}
    advisory = findings("@disable_ddl_transaction true\n\n" + body, migration_lock="pg_advisory_lock")
    assert ids(advisory) == []
    off = findings("@disable_ddl_transaction true\n\n" + body, migration_lock="false")
    assert "concurrent-index-migration-lock" not in ids(off)


def test_modify_always_emits_alter_type_so_a_null_change_is_two_findings():
    found = findings("def change do\n  alter table(:products) do\n    modify :active, :boolean, null: false\n"
                     "  end\nend", rules=["modify-null-or-default", "set-not-null", "column-type-change"])
    assert sorted(ids(found)) == ["modify-null-or-default", "set-not-null"]


def test_modify_with_a_real_type_change_and_null():
    before = ["def change do\n  create table(:posts) do\n    add :views, :integer\n  end\nend"]
    found = findings("def change do\n  alter table(:posts) do\n    modify :views, :bigint, null: false\n"
                     "  end\nend", before=before, rules=["modify-null-or-default", "set-not-null", "column-type-change"])
    assert sorted(ids(found)) == ["column-type-change", "set-not-null"]


def test_history_follows_renames_and_modifies():
    before = ["def change do\n  create table(:posts) do\n    add :title, :string\n  end\nend",
              "def change do\n  rename table(:posts), :title, to: :headline\nend"]
    found = findings("def change do\n  alter table(:posts) do\n    modify :headline, :text\n  end\nend",
                     before=before, rules=["column-type-change"])
    assert found[0].severity == "info"


def test_raw_sql_gets_the_same_rules():
    found = findings('def up do\n  execute """\n  ALTER TABLE posts ADD COLUMN token uuid DEFAULT gen_random_uuid();\n'
                     '  CREATE INDEX posts_token ON posts (token);\n  ALTER TABLE posts ALTER COLUMN title SET NOT NULL;\n'
                     '  """\nend')
    assert {"volatile-default", "index-not-concurrent", "set-not-null"} <= set(ids(found))


def test_repo_query_sql_is_analysed_too():
    found = findings('def up do\n  repo().query!("CREATE INDEX posts_token ON posts (token)")\nend')
    assert "index-not-concurrent" in ids(found)


def test_table_created_in_the_same_migration_is_safe_for_everything():
    found = findings("def change do\n  create table(:events) do\n    add :kind, :string\n  end\n\n"
                     "  alter table(:events) do\n    add :token, :uuid, default: fragment(\"gen_random_uuid()\")\n"
                     "    add :user_id, references(:users)\n    modify :kind, :text, null: false\n  end\n\n"
                     "  create index(:events, [:kind])\n  create constraint(:events, :k, check: \"kind <> ''\")\nend")
    assert [f for f in found if f.severity in ("error", "warning") and f.rule != "foreign-key-without-index"] == []


def test_down_is_not_what_deploys_run():
    found = findings("def up do\n  alter table(:posts) do\n    add :slug, :text\n  end\nend\n\n"
                     "def down do\n  alter table(:posts) do\n    remove :slug\n  end\nend", rules=["remove-column"])
    assert found == []
