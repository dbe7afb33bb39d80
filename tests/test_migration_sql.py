"""migration_sql against the exact SQL of shared/reference/ecto-migrations.md §1-§3.

Each case writes the migration in Ecto syntax and compares the generated strings verbatim. A few
longer cases are the expected strings of ecto_sql's own adapter tests
(test/ecto/adapters/postgres_test.exs), which the reference says its strings were checked against.
"""

from __future__ import annotations

import textwrap

import pytest

from tools.ecto.elixir import Atom
from tools.ecto.migration import Unknown, parse_migration
from tools.ecto.migration_sql import (
    RepoConfig, SqlStatement, migration_sql, migration_version, sort_migrations,
)
from tools.errors import InputError


def remove_newlines(text: str) -> str:
    """ecto_sql's test helper: its expected strings are heredocs joined into one line."""
    return textwrap.dedent(text).strip().replace("\n", " ")


def module(body: str, attrs: str = "") -> str:
    return (f"defmodule MyApp.Repo.Migrations.M do\n  use Ecto.Migration\n{attrs}\n"
            f"{body}\nend\n")


def change(body: str) -> str:
    return module(f"  def change do\n{body}\n  end")


def sql(body: str, direction: str = "up", **kw) -> list[str]:
    return [s.sql for s in migration_sql(parse_migration(change(body)), direction, **kw)]


def one(body: str, direction: str = "up", **kw) -> str:
    out = sql(body, direction, **kw)
    assert len(out) == 1, out
    return out[0]


# ---- §1 table, row by row ------------------------------------------------------------------------

def test_create_table_with_implicit_id_reference_and_timestamps():
    assert one("""
    create table("posts") do
      add :title, :string
      add :user_id, references(:users)
      timestamps()
    end""") == (
        'CREATE TABLE "posts" ("id" bigserial, "title" varchar(255), "user_id" bigint, '
        'CONSTRAINT "posts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id"), '
        '"inserted_at" timestamp(0) NOT NULL, "updated_at" timestamp(0) NOT NULL, '
        'PRIMARY KEY ("id"))')


def test_create_if_not_exists_table():
    assert one('create_if_not_exists table("posts") do\n add :title, :text\n end') == \
        'CREATE TABLE IF NOT EXISTS "posts" ("id" bigserial, "title" text, PRIMARY KEY ("id"))'


def test_create_table_without_block_has_only_the_primary_key():
    assert one("create table(:tags)") == 'CREATE TABLE "tags" ("id" bigserial, PRIMARY KEY ("id"))'


def test_modifiers_and_options():
    assert one('create table(:posts, modifiers: "UNLOGGED") do\n add :a, :integer\n end') == \
        'CREATE UNLOGGED TABLE "posts" ("id" bigserial, "a" integer, PRIMARY KEY ("id"))'
    # ecto_sql: "create table with options"
    assert one('create table(:posts, primary_key: false, options: "WITH FOO=BAR") do\n'
               ' add :id, :serial, primary_key: true\n add :created_at, :naive_datetime\n end') == \
        'CREATE TABLE "posts" ("id" serial, "created_at" timestamp(0), PRIMARY KEY ("id")) WITH FOO=BAR'


def test_comments_are_separate_statements():
    # ecto_sql: "create table with comment on columns and table"
    assert sql("""
    create table(:posts, primary_key: false, comment: "comment") do
      add :category_0, references(:categories), comment: "column comment"
      add :created_at, :timestamp
      add :updated_at, :timestamp, comment: "column comment 2"
    end""") == [
        'CREATE TABLE "posts" ("category_0" bigint, CONSTRAINT "posts_category_0_fkey" FOREIGN KEY '
        '("category_0") REFERENCES "categories"("id"), "created_at" timestamp, "updated_at" timestamp)',
        """COMMENT ON TABLE "posts" IS 'comment'""",
        """COMMENT ON COLUMN "posts"."category_0" IS 'column comment'""",
        """COMMENT ON COLUMN "posts"."updated_at" IS 'column comment 2'""",
    ]


def test_alter_table_is_one_comma_joined_statement():
    assert one("""
    alter table(:t) do
      add :a, :integer
      remove :b
    end""") == 'ALTER TABLE "t" ADD COLUMN "a" integer, DROP COLUMN "b"'


def test_add_column_with_default_and_null():
    assert one('alter table(:posts) do\n add :title, :string, default: "Untitled", size: 100, '
               'null: false\n end') == \
        """ALTER TABLE "posts" ADD COLUMN "title" varchar(100) DEFAULT 'Untitled' NOT NULL"""
    assert one("alter table(:posts) do\n add :n, :integer, null: true\n end") == \
        'ALTER TABLE "posts" ADD COLUMN "n" integer NULL'


def test_add_reference_in_alter_and_not_valid():
    assert one('alter table(:t) do\n add :c, references("r")\n end') == (
        'ALTER TABLE "t" ADD COLUMN "c" bigint, ADD CONSTRAINT "t_c_fkey" FOREIGN KEY ("c") '
        'REFERENCES "r"("id")')
    assert one('alter table(:posts) do\n add :group_id, references("groups", validate: false)\n end'
               ).endswith('REFERENCES "groups"("id") NOT VALID')


def test_add_if_not_exists():
    assert one("alter table(:posts) do\n add_if_not_exists :subtitle, :string, size: 100, "
               "null: false\n end") == \
        'ALTER TABLE "posts" ADD COLUMN IF NOT EXISTS "subtitle" varchar(100) NOT NULL'


def test_modify_always_alters_type_then_null_then_default():
    assert one("alter table(:t) do\n modify :c, :integer, null: false, default: 0\n end") == (
        'ALTER TABLE "t" ALTER COLUMN "c" TYPE integer, ALTER COLUMN "c" SET NOT NULL, '
        'ALTER COLUMN "c" SET DEFAULT 0')
    assert one("alter table(:t) do\n modify :c, :text, null: true\n end") == \
        'ALTER TABLE "t" ALTER COLUMN "c" TYPE text, ALTER COLUMN "c" DROP NOT NULL'


def test_modify_from_reference_drops_the_constraint_first():
    assert one("alter table(:t) do\n modify :c, :integer, from: references(:r)\n end") == \
        'ALTER TABLE "t" DROP CONSTRAINT "t_c_fkey", ALTER COLUMN "c" TYPE integer'
    assert one("alter table(:t) do\n modify :c, references(:r, on_delete: :delete_all), "
               "from: references(:r)\n end") == (
        'ALTER TABLE "t" DROP CONSTRAINT "t_c_fkey", ALTER COLUMN "c" TYPE bigint, '
        'ADD CONSTRAINT "t_c_fkey" FOREIGN KEY ("c") REFERENCES "r"("id") ON DELETE CASCADE')


def test_remove_forms():
    assert one("alter table(:t) do\n remove :c\n end") == 'ALTER TABLE "t" DROP COLUMN "c"'
    assert one("alter table(:t) do\n remove :c, references(:r)\n end") == \
        'ALTER TABLE "t" DROP CONSTRAINT "t_c_fkey", DROP COLUMN "c"'
    assert one("alter table(:t) do\n remove_if_exists :c, :string\n end") == \
        'ALTER TABLE "t" DROP COLUMN IF EXISTS "c"'


def test_ecto_sql_alter_table_case():
    """ecto_sql's "alter table" adapter test, every column change kind in one statement."""
    assert one("""
    alter table(:posts) do
      add :title, :string, default: "Untitled", size: 100, null: false
      add :author_id, references(:author)
      add :category_id, references(:categories, validate: false)
      add_if_not_exists :subtitle, :string, size: 100, null: false
      add_if_not_exists :editor_id, references(:editor)
      modify :price, :numeric, precision: 8, scale: 2, null: true
      modify :cost, :integer, null: false, default: nil
      modify :permalink_id, references(:permalinks), null: false
      modify :status, :string, from: :integer
      modify :user_id, :integer, from: references(:users)
      modify :space_id, :integer, null: true, from: {references(:author), null: false}
      modify :group_id, references(:groups, column: :gid), from: references(:groups)
      modify :status, :string, null: false, size: 100, from: {:integer, null: true, size: 50}
      remove :summary
      remove :body, :text
      remove :space_id, references(:author)
      remove_if_exists :body, :text
      remove_if_exists :body
      remove_if_exists :space_id, references(:author)
    end""") == remove_newlines("""
      ALTER TABLE "posts"
      ADD COLUMN "title" varchar(100) DEFAULT 'Untitled' NOT NULL,
      ADD COLUMN "author_id" bigint,
      ADD CONSTRAINT "posts_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "author"("id"),
      ADD COLUMN "category_id" bigint,
      ADD CONSTRAINT "posts_category_id_fkey" FOREIGN KEY ("category_id") REFERENCES "categories"("id") NOT VALID,
      ADD COLUMN IF NOT EXISTS "subtitle" varchar(100) NOT NULL,
      ADD COLUMN IF NOT EXISTS "editor_id" bigint,
      ADD CONSTRAINT "posts_editor_id_fkey" FOREIGN KEY ("editor_id") REFERENCES "editor"("id"),
      ALTER COLUMN "price" TYPE numeric(8,2),
      ALTER COLUMN "price" DROP NOT NULL,
      ALTER COLUMN "cost" TYPE integer,
      ALTER COLUMN "cost" SET NOT NULL,
      ALTER COLUMN "cost" SET DEFAULT NULL,
      ALTER COLUMN "permalink_id" TYPE bigint,
      ADD CONSTRAINT "posts_permalink_id_fkey" FOREIGN KEY ("permalink_id") REFERENCES "permalinks"("id"),
      ALTER COLUMN "permalink_id" SET NOT NULL,
      ALTER COLUMN "status" TYPE varchar(255),
      DROP CONSTRAINT "posts_user_id_fkey",
      ALTER COLUMN "user_id" TYPE integer,
      DROP CONSTRAINT "posts_space_id_fkey",
      ALTER COLUMN "space_id" TYPE integer,
      ALTER COLUMN "space_id" DROP NOT NULL,
      DROP CONSTRAINT "posts_group_id_fkey",
      ALTER COLUMN "group_id" TYPE bigint,
      ADD CONSTRAINT "posts_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("gid"),
      ALTER COLUMN "status" TYPE varchar(100),
      ALTER COLUMN "status" SET NOT NULL,
      DROP COLUMN "summary",
      DROP COLUMN "body",
      DROP CONSTRAINT "posts_space_id_fkey",
      DROP COLUMN "space_id",
      DROP COLUMN IF EXISTS "body",
      DROP COLUMN IF EXISTS "body",
      DROP CONSTRAINT IF EXISTS "posts_space_id_fkey",
      DROP COLUMN IF EXISTS "space_id"
      """)


def test_index_template_every_option():
    assert one("""
    create_if_not_exists index(:t, [:a, desc_nulls_last: :b],
      unique: true, concurrently: true, only: true, using: :hash, include: [:x],
      nulls_distinct: false, options: "fillfactor=50", where: "a > 0")""") == (
        'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "t_a_b_index" ON ONLY "t" USING hash '
        '("a", "b" DESC NULLS LAST) INCLUDE ("x") NULLS NOT DISTINCT WITH (fillfactor=50) '
        'WHERE a > 0')


def test_index_example_from_reference():
    assert one("create unique_index(:posts, [:permalink], concurrently: true)") == \
        'CREATE UNIQUE INDEX CONCURRENTLY "posts_permalink_index" ON "posts" ("permalink")'


@pytest.mark.parametrize("direction,suffix", [
    ("asc", "ASC"), ("asc_nulls_first", "ASC NULLS FIRST"), ("asc_nulls_last", "ASC NULLS LAST"),
    ("desc", "DESC"), ("desc_nulls_first", "DESC NULLS FIRST"),
    ("desc_nulls_last", "DESC NULLS LAST"),
])
def test_index_directions(direction, suffix):
    assert one(f"create index(:posts, [:category_id, {direction}: :permalink])") == (
        'CREATE INDEX "posts_category_id_permalink_index" ON "posts" '
        f'("category_id", "permalink" {suffix})')


def test_index_nulls_distinct_and_comment():
    assert one("create index(:posts, [:permalink], unique: true, nulls_distinct: true)") == \
        'CREATE UNIQUE INDEX "posts_permalink_index" ON "posts" ("permalink") NULLS DISTINCT'
    # ecto_sql: "create index with comment"
    assert sql('create index(:posts, [:category_id, :permalink], prefix: "foo", comment: "comment")'
               ) == [
        'CREATE INDEX "posts_category_id_permalink_index" ON "foo"."posts" ("category_id", "permalink")',
        """COMMENT ON INDEX "foo"."posts_category_id_permalink_index" IS 'comment'"""]


def test_index_string_columns_are_raw_sql_and_atoms_are_quoted():
    # ecto_sql: "create index"; Ecto never quotes a string column, even a plain name
    assert one('create index(:posts, ["lower(permalink)"], name: "posts$main")') == \
        'CREATE INDEX "posts$main" ON "posts" (lower(permalink))'
    assert one('create index(:posts, ["title", :body])') == \
        'CREATE INDEX "posts_title_body_index" ON "posts" (title, "body")'
    assert one("create unique_index(:posts, [:permalink], where: :public)").endswith(
        '("permalink") WHERE public')


@pytest.mark.parametrize("stmt,expected", [
    ("drop index(:t, [:a])", 'DROP INDEX "t_a_index"'),
    ("drop index(:t, [:a], concurrently: true)", 'DROP INDEX CONCURRENTLY "t_a_index"'),
    ("drop_if_exists index(:t, [:a], concurrently: true)",
     'DROP INDEX CONCURRENTLY IF EXISTS "t_a_index"'),
    ('drop index(:posts, [:id], name: "posts$main", prefix: "foo"), mode: :cascade',
     'DROP INDEX "foo"."posts$main" CASCADE'),
])
def test_drop_index(stmt, expected):
    assert sql(stmt) == [expected]


def test_rename_index():
    assert one('rename index(:people, [:name], name: "old"), to: "new"') == \
        'ALTER INDEX "old" RENAME TO "new"'


def test_check_constraint_and_not_valid():
    assert one('create constraint("products", :price_must_be_positive, check: "price > 0")') == \
        'ALTER TABLE "products" ADD CONSTRAINT "price_must_be_positive" CHECK (price > 0)'
    assert one('create constraint("products", :price_must_be_positive, check: "price > 0", '
               'validate: false)') == ('ALTER TABLE "products" ADD CONSTRAINT '
                                       '"price_must_be_positive" CHECK (price > 0) NOT VALID')


def test_exclusion_constraint_and_comment():
    assert one("""create constraint(:products, :n, exclude: ~s|gist (int4range("from", "to", '[]') WITH &&)|)""") == \
        """ALTER TABLE "products" ADD CONSTRAINT "n" EXCLUDE USING gist (int4range("from", "to", '[]') WITH &&)"""
    assert sql('create constraint(:products, "price_must_be_positive", check: "price > 0", '
               'prefix: "foo", comment: "comment")')[1] == \
        """COMMENT ON CONSTRAINT "price_must_be_positive" ON "foo"."products" IS 'comment'"""


@pytest.mark.parametrize("stmt,expected", [
    ("drop constraint(:t, :n)", 'ALTER TABLE "t" DROP CONSTRAINT "n"'),
    ("drop_if_exists constraint(:t, :n)", 'ALTER TABLE "t" DROP CONSTRAINT IF EXISTS "n"'),
    ("drop constraint(:t, :n), mode: :cascade", 'ALTER TABLE "t" DROP CONSTRAINT "n" CASCADE'),
    ("drop table(:t)", 'DROP TABLE "t"'),
    ("drop_if_exists table(:t)", 'DROP TABLE IF EXISTS "t"'),
    ('drop table(:t, prefix: "foo"), mode: :cascade', 'DROP TABLE "foo"."t" CASCADE'),
    ("rename table(:posts), to: table(:new_posts)", 'ALTER TABLE "posts" RENAME TO "new_posts"'),
    ('rename table(:posts, prefix: "foo"), to: table(:new_posts, prefix: "foo")',
     'ALTER TABLE "foo"."posts" RENAME TO "new_posts"'),
    ("rename table(:posts), :given_name, to: :first_name",
     'ALTER TABLE "posts" RENAME "given_name" TO "first_name"'),
])
def test_drops_and_renames(stmt, expected):
    assert sql(stmt, "up") == [expected]


def test_execute_passes_sql_through():
    assert sql('execute "CREATE EXTENSION citext"') == ["CREATE EXTENSION citext"]
    assert sql('execute("CREATE EXTENSION citext", "DROP EXTENSION citext")') == \
        ["CREATE EXTENSION citext"]
    assert sql('execute("CREATE EXTENSION citext", "DROP EXTENSION citext")', "down") == \
        ["DROP EXTENSION citext"]


def test_execute_fn_is_dynamic_unless_it_only_runs_literal_queries():
    with pytest.raises(InputError, match=r"M:5: .*only known when Elixir runs it"):
        sql("execute(fn -> backfill(repo()) end)")
    skipped = []
    assert sql("execute(fn -> backfill(repo()) end)", on_dynamic=skipped.append) == []
    assert skipped[0].line == 5
    assert sql('execute(fn -> repo().query!("SELECT 1") end)') == ["SELECT 1"]


# ---- on_delete / on_update / match / with ---------------------------------------------------------

@pytest.mark.parametrize("opt,clause", [
    ("on_delete: :delete_all", " ON DELETE CASCADE"),
    ("on_delete: :nilify_all", " ON DELETE SET NULL"),
    ("on_delete: {:nilify, [:a, :b]}", ' ON DELETE SET NULL ("a","b")'),
    ("on_delete: :default_all", " ON DELETE SET DEFAULT"),
    ("on_delete: {:default, [:a]}", ' ON DELETE SET DEFAULT ("a")'),
    ("on_delete: :restrict", " ON DELETE RESTRICT"),
    ("on_delete: :nothing", ""),
    ("on_update: :update_all", " ON UPDATE CASCADE"),
    ("on_update: :nilify_all", " ON UPDATE SET NULL"),
    ("on_update: :restrict", " ON UPDATE RESTRICT"),
    ("match: :full", " MATCH FULL"),
    ("match: :simple", " MATCH SIMPLE"),
    ("match: :partial", " MATCH PARTIAL"),
])
def test_reference_actions(opt, clause):
    assert one(f"alter table(:t) do\n add :c, references(:r, {opt})\n end") == \
        f'ALTER TABLE "t" ADD COLUMN "c" bigint, ADD CONSTRAINT "t_c_fkey" FOREIGN KEY ("c") ' \
        f'REFERENCES "r"("id"){clause}'


def test_ecto_sql_create_table_with_references_case():
    """ecto_sql's "create table with references" adapter test."""
    assert one("""
    create table(:posts, primary_key: false) do
      add :id, :serial, primary_key: true
      add :category_0, references(:categories)
      add :category_1, references(:categories, name: :foo_bar)
      add :category_2, references(:categories, on_delete: :nothing)
      add :category_3, references(:categories, on_delete: :delete_all), null: false
      add :category_4, references(:categories, on_delete: :nilify_all)
      add :category_5, references(:categories, on_update: :nothing)
      add :category_6, references(:categories, on_update: :update_all), null: false
      add :category_7, references(:categories, on_update: :nilify_all)
      add :category_8, references(:categories, on_delete: :nilify_all, on_update: :update_all), null: false
      add :category_9, references(:categories, on_delete: :restrict)
      add :category_10, references(:categories, on_update: :restrict)
      add :category_11, references(:categories, prefix: "foo", on_update: :restrict)
      add :category_12, references(:categories, with: [here: :there])
      add :category_13, references(:categories, on_update: :restrict, with: [here: :there], match: :full)
      add :category_14, references(:categories, with: [here: :there, here2: :there2], on_delete: {:nilify, [:here, :here2]})
      add :category_15, references(:categories, on_delete: :default_all)
      add :category_16, references(:categories, with: [here: :there, here2: :there2], on_delete: :default_all)
      add :category_17, references(:categories, with: [here: :there, here2: :there2], on_delete: {:default, [:here, :here2]})
    end""") == remove_newlines("""
      CREATE TABLE "posts" ("id" serial,
      "category_0" bigint, CONSTRAINT "posts_category_0_fkey" FOREIGN KEY ("category_0") REFERENCES "categories"("id"),
      "category_1" bigint, CONSTRAINT "foo_bar" FOREIGN KEY ("category_1") REFERENCES "categories"("id"),
      "category_2" bigint, CONSTRAINT "posts_category_2_fkey" FOREIGN KEY ("category_2") REFERENCES "categories"("id"),
      "category_3" bigint NOT NULL, CONSTRAINT "posts_category_3_fkey" FOREIGN KEY ("category_3") REFERENCES "categories"("id") ON DELETE CASCADE,
      "category_4" bigint, CONSTRAINT "posts_category_4_fkey" FOREIGN KEY ("category_4") REFERENCES "categories"("id") ON DELETE SET NULL,
      "category_5" bigint, CONSTRAINT "posts_category_5_fkey" FOREIGN KEY ("category_5") REFERENCES "categories"("id"),
      "category_6" bigint NOT NULL, CONSTRAINT "posts_category_6_fkey" FOREIGN KEY ("category_6") REFERENCES "categories"("id") ON UPDATE CASCADE,
      "category_7" bigint, CONSTRAINT "posts_category_7_fkey" FOREIGN KEY ("category_7") REFERENCES "categories"("id") ON UPDATE SET NULL,
      "category_8" bigint NOT NULL, CONSTRAINT "posts_category_8_fkey" FOREIGN KEY ("category_8") REFERENCES "categories"("id") ON DELETE SET NULL ON UPDATE CASCADE,
      "category_9" bigint, CONSTRAINT "posts_category_9_fkey" FOREIGN KEY ("category_9") REFERENCES "categories"("id") ON DELETE RESTRICT,
      "category_10" bigint, CONSTRAINT "posts_category_10_fkey" FOREIGN KEY ("category_10") REFERENCES "categories"("id") ON UPDATE RESTRICT,
      "category_11" bigint, CONSTRAINT "posts_category_11_fkey" FOREIGN KEY ("category_11") REFERENCES "foo"."categories"("id") ON UPDATE RESTRICT,
      "category_12" bigint, CONSTRAINT "posts_category_12_fkey" FOREIGN KEY ("category_12","here") REFERENCES "categories"("id","there"),
      "category_13" bigint, CONSTRAINT "posts_category_13_fkey" FOREIGN KEY ("category_13","here") REFERENCES "categories"("id","there") MATCH FULL ON UPDATE RESTRICT,
      "category_14" bigint, CONSTRAINT "posts_category_14_fkey" FOREIGN KEY ("category_14","here","here2") REFERENCES "categories"("id","there","there2") ON DELETE SET NULL ("here","here2"),
      "category_15" bigint, CONSTRAINT "posts_category_15_fkey" FOREIGN KEY ("category_15") REFERENCES "categories"("id") ON DELETE SET DEFAULT,
      "category_16" bigint, CONSTRAINT "posts_category_16_fkey" FOREIGN KEY ("category_16","here","here2") REFERENCES "categories"("id","there","there2") ON DELETE SET DEFAULT,
      "category_17" bigint, CONSTRAINT "posts_category_17_fkey" FOREIGN KEY ("category_17","here","here2") REFERENCES "categories"("id","there","there2") ON DELETE SET DEFAULT ("here","here2"),
      PRIMARY KEY ("id"))
      """)


def test_composite_primary_key_uses_quote_names_without_space():
    assert one("""
    create table(:posts, primary_key: false) do
      add :a, :integer, primary_key: true
      add :b, :integer, primary_key: true
      add :name, :string
    end""") == ('CREATE TABLE "posts" ("a" integer, "b" integer, "name" varchar(255), '
                'PRIMARY KEY ("a","b"))')


# ---- type map and defaults -----------------------------------------------------------------------

@pytest.mark.parametrize("ecto,pg", [
    (":string", "varchar(255)"),
    (":string, size: 40", "varchar(40)"),
    (":binary_id", "uuid"),
    (":uuid", "uuid"),
    (":map", "jsonb"),
    ("{:map, :string}", "jsonb"),
    (":naive_datetime", "timestamp(0)"),
    (":utc_datetime", "timestamp(0)"),
    (":naive_datetime_usec", "timestamp"),
    (":utc_datetime_usec", "timestamp"),
    (":utc_datetime_usec, precision: 3", "timestamp(3)"),
    (":time", "time(0)"),
    (":time_usec", "time"),
    (":date", "date"),
    (":text", "text"),
    (":integer", "integer"),
    (":bigint", "bigint"),
    (":boolean", "boolean"),
    (":float", "float"),
    (":citext", "citext"),
    (":binary", "bytea"),
    (":decimal, precision: 10, scale: 2", "decimal(10,2)"),
    (":numeric, precision: 8", "numeric(8,0)"),
    (":serial", "serial"),
    (":bigserial", "bigserial"),
    (":identity", "bigint GENERATED BY DEFAULT AS IDENTITY"),
    ("{:array, :string}", "varchar(255)[]"),
    ("{:array, :integer}", "integer[]"),
    (':"time without time zone"', "time without time zone"),
    (":duration", "interval"),
])
def test_type_map(ecto, pg):
    assert one(f"alter table(:t) do\n add :c, {ecto}\n end") == f'ALTER TABLE "t" ADD COLUMN "c" {pg}'


@pytest.mark.parametrize("ref_type,pg", [
    (":serial", "integer"), (":bigserial", "bigint"), (":identity", "bigint"),
    (":binary_id", "uuid"), (":uuid", "uuid"),
])
def test_reference_column_types(ref_type, pg):
    assert one(f"alter table(:t) do\n add :c, references(:r, type: {ref_type})\n end").startswith(
        f'ALTER TABLE "t" ADD COLUMN "c" {pg}, ADD CONSTRAINT')


def test_identity_start_and_increment():
    # ecto_sql: "create table with identity key options" (note Ecto's trailing space)
    assert one("""
    create table(:posts, primary_key: false) do
      add :id, :identity, primary_key: true, start_value: 1_000, increment: 10
      add :name, :string
    end""") == ('CREATE TABLE "posts" ("id" bigint GENERATED BY DEFAULT AS IDENTITY'
                '(START WITH 1000 INCREMENT BY 10) , "name" varchar(255), PRIMARY KEY ("id"))')


def test_defaults_ecto_sql_create_table_case():
    """ecto_sql's "create table" adapter test (without its bitstring literal default)."""
    assert one("""
    create table(:posts, primary_key: false) do
      add :name, :string, default: "Untitled", size: 20, null: false
      add :price, :numeric, precision: 8, scale: 2, default: fragment("expr")
      add :on_hand, :integer, default: 0, null: true
      add :published_at, :"time without time zone", null: true
      add :is_active, :boolean, default: true
      add :flags, :bitstring, null: false
      add :flags_with_size, :bitstring, size: 10
      add :dur, :duration, fields: "YEAR TO MONTH", precision: 2, default: "1 MONTH"
      add :tags, {:array, :string}, default: []
      add :languages, {:array, :string}, default: ["pt", "es"]
      add :limits, {:array, :integer}, default: [100, 30_000]
    end""") == (
        """CREATE TABLE "posts" ("name" varchar(20) DEFAULT 'Untitled' NOT NULL, """
        """"price" numeric(8,2) DEFAULT expr, "on_hand" integer DEFAULT 0 NULL, """
        """"published_at" time without time zone NULL, "is_active" boolean DEFAULT true, """
        """"flags" varbit NOT NULL, "flags_with_size" varbit(10), """
        """"dur" interval YEAR TO MONTH(2) DEFAULT '1 MONTH', """
        """"tags" varchar(255)[] DEFAULT ARRAY[]::varchar[], """
        """"languages" varchar(255)[] DEFAULT ARRAY['pt','es']::varchar[], """
        """"limits" integer[] DEFAULT ARRAY[100,30000]::integer[])""")


@pytest.mark.parametrize("default,pg", [
    ('"it\'s"', "'it''s'"),
    ("-1", "-1"),
    ("1.5", "1.5"),
    ("false", "false"),
    ("nil", "NULL"),
    ('fragment("now()")', "now()"),
    ('fragment("gen_random_uuid()")', "gen_random_uuid()"),
])
def test_default_literals(default, pg):
    assert one(f"alter table(:t) do\n add :c, :text, default: {default}\n end") == \
        f'ALTER TABLE "t" ADD COLUMN "c" text DEFAULT {pg}'


def test_map_defaults_are_json():
    assert one("alter table(:t) do\n add :c, :map, default: %{}\n end").endswith("jsonb DEFAULT '{}'")
    assert one('alter table(:t) do\n add :c, :map, default: %{foo: "bar", baz: "boom"}\n end'
               ).endswith("""jsonb DEFAULT '{"baz":"boom","foo":"bar"}'""")


def test_invalid_default_is_an_input_error_naming_the_line():
    with pytest.raises(InputError, match=r"M:6: unknown default"):
        sql("alter table(:t) do\n add :c, :text, default: :atom\n end")


@pytest.mark.parametrize("stmt,message", [
    ("create index(:t, [:a], nulls_distinct: false)", "only be used with unique indexes"),
    ("alter table(:t) do\n add :c, :datetime\n end", ":datetime type in migrations"),
    ("alter table(:t) do\n add :c, references(:r, on_delete: :cascade)\n end", "on_delete"),
    ('create table(:t, options: [with: "x"])', "keyword lists in :options"),
    ("alter table(:t) do\n add :c, :integer, generated: :always\n end", "`:generated`"),
    ("create constraint(:t, :c)", "needs a :check or :exclude"),
])
def test_what_ecto_rejects_is_an_input_error(stmt, message):
    with pytest.raises(InputError, match=message):
        sql(stmt)


# ---- §2 naming rules -----------------------------------------------------------------------------

@pytest.mark.parametrize("call,name", [
    ('index("posts", ["lower(title)"])', "posts_lower_title_index"),
    ("index(:posts, [:a, :b])", "posts_a_b_index"),
    ("unique_index(:posts, [:a, :b])", "posts_a_b_index"),
    ("index(:posts, :a)", "posts_a_index"),
    ('index(:posts, ["(to_tsvector(\'english\', name))"])',
     "posts__to_tsvector__english___name_index"),
    ("index(:posts, [desc: :title])", "posts_title_index"),
])
def test_default_index_names(call, name):
    assert f'INDEX "{name}" ON' in one(f"create {call}")


def test_fk_name_leaves_out_the_prefix():
    # ecto_sql: "create table with prefix": the FK target inherits the table prefix, the name doesn't
    assert one('create table(:posts, prefix: "foo", primary_key: false) do\n'
               ' add :category_0, references(:categories)\n end') == (
        'CREATE TABLE "foo"."posts" ("category_0" bigint, CONSTRAINT "posts_category_0_fkey" '
        'FOREIGN KEY ("category_0") REFERENCES "foo"."categories"("id"))')


def test_primary_key_is_unnamed():
    out = one("create table(:posts)")
    assert "CONSTRAINT" not in out and out.endswith('PRIMARY KEY ("id"))')


def test_long_names_are_not_truncated():
    long = "a" * 70
    assert f'"t_{long}_index"' in one(f"create index(:t, [:{long}])")


def test_double_quote_in_a_name_is_rejected():
    with pytest.raises(InputError, match="not permitted"):
        sql('create index(:t, [:a], name: "bad\\"name")')


# ---- repo configuration --------------------------------------------------------------------------

def test_repo_config_changes_implicit_keys_and_timestamps():
    config = RepoConfig(primary_key={"name": Atom("uuid"), "type": Atom("binary_id")},
                        timestamps={"type": Atom("utc_datetime_usec")})
    assert one("create table(:p) do\n add :o, references(:owners)\n timestamps()\n end",
               config=config) == (
        'CREATE TABLE "p" ("uuid" uuid, "o" uuid, CONSTRAINT "p_o_fkey" FOREIGN KEY ("o") '
        'REFERENCES "owners"("id"), "inserted_at" timestamp NOT NULL, '
        '"updated_at" timestamp NOT NULL, PRIMARY KEY ("uuid"))')
    assert one("create table(:p)", config=RepoConfig(primary_key=None)) == 'CREATE TABLE "p" ()'


def test_explicit_primary_key_options_and_timestamps_options():
    assert one("""
    create table(:p, primary_key: [name: :key, type: :binary_id]) do
      timestamps(type: :utc_datetime, inserted_at: :created_at, updated_at: false, null: true)
    end""") == ('CREATE TABLE "p" ("key" uuid, "created_at" timestamp(0) NULL, '
                'PRIMARY KEY ("key"))')


# ---- §3 transactions, order, rollback ------------------------------------------------------------

def test_in_transaction_follows_disable_ddl_transaction():
    src = module("  def change do\n    create index(:p, [:a], concurrently: true)\n  end",
                 attrs="  @disable_ddl_transaction true\n  @disable_migration_lock true")
    [stmt] = migration_sql(parse_migration(src))
    assert stmt == SqlStatement('CREATE INDEX CONCURRENTLY "p_a_index" ON "p" ("a")', 6, False)
    [stmt] = migration_sql(parse_migration(change("create index(:p, [:a])")))
    assert stmt.in_transaction is True and stmt.line == 5


def test_after_begin_runs_only_inside_the_transaction():
    callbacks = ('  def after_begin, do: execute("SET LOCAL lock_timeout TO \'5s\'", '
                 '"SET LOCAL lock_timeout TO \'10s\'")\n')
    body = "  def change do\n    drop index(:p, [:a])\n  end\n" + callbacks
    assert [s.sql for s in migration_sql(parse_migration(module(body)))] == \
        ["SET LOCAL lock_timeout TO '5s'", 'DROP INDEX "p_a_index"']
    assert [s.sql for s in migration_sql(parse_migration(module(body)), "down")] == \
        ["SET LOCAL lock_timeout TO '10s'", 'CREATE INDEX "p_a_index" ON "p" ("a")']
    no_tx = module(body, attrs="  @disable_ddl_transaction true")
    assert [s.sql for s in migration_sql(parse_migration(no_tx))] == ['DROP INDEX "p_a_index"']


def test_repo_calls_run_before_queued_commands_until_flush():
    body = """
    create table(:flags) do
      add :name, :string
    end
    repo().query!("SELECT 1")
    flush()
    repo().query!("INSERT INTO flags (name) VALUES ('a')")
    execute "SELECT 2"
    repo().query!("SELECT 3", [])"""
    out = sql(body)
    assert out[0] == "SELECT 1" and out[1].startswith('CREATE TABLE "flags"')
    assert out[2:] == ["INSERT INTO flags (name) VALUES ('a')", "SELECT 3", "SELECT 2"]


def test_change_down_reverses_in_reverse_order():
    body = """
    create table(:a) do
      add :x, :integer
    end
    create index(:a, [:x])
    alter table(:a) do
      add :y, :text
      remove :z, :string, size: 10
      modify :w, :text, from: {:string, null: false}
      timestamps()
    end
    rename table(:a), to: table(:b)
    rename table(:b), :x, to: :x2
    rename index(:b, [:x], name: :i_old), to: :i_new
    create constraint(:b, :c, check: "x2 > 0")
    drop index(:b, [:y])
    execute "SELECT 1", "SELECT 2"
    """
    assert sql(body, "down") == [
        "SELECT 2",
        'CREATE INDEX "b_y_index" ON "b" ("y")',
        'ALTER TABLE "b" DROP CONSTRAINT "c"',
        'ALTER INDEX "i_new" RENAME TO "i_old"',
        'ALTER TABLE "b" RENAME "x2" TO "x"',
        'ALTER TABLE "b" RENAME TO "a"',
        'ALTER TABLE "a" DROP COLUMN "updated_at", DROP COLUMN "inserted_at", '
        'ALTER COLUMN "w" TYPE varchar(255), ALTER COLUMN "w" SET NOT NULL, '
        'ADD COLUMN "z" varchar(10), DROP COLUMN "y"',
        'DROP INDEX "a_x_index"',
        'DROP TABLE "a"',
    ]


@pytest.mark.parametrize("stmt,line", [
    ('execute "CREATE EXTENSION citext"', 6),
    ("alter table(:t) do\n remove :c\n end", 7),
    ("alter table(:t) do\n modify :c, :text\n end", 7),
    ("drop table(:t)", 6),
    ("drop constraint(:t, :c)", 6),
    ("alter table(:t) do\n add_if_not_exists :c, :text\n end", 7),
])
def test_irreversible_change_ops_name_their_line(stmt, line):
    with pytest.raises(InputError, match=rf"M:{line}: cannot reverse `"):
        sql("create index(:ok, [:a])\n" + stmt, "down")


def test_flush_in_change_cannot_roll_back():
    with pytest.raises(InputError, match="flush"):
        sql("execute \"SELECT 1\", \"SELECT 2\"\nflush()", "down")


def test_explicit_up_and_down_run_forward():
    src = module('  def up do\n    execute "A", "B"\n  end\n'
                 '  def down do\n    execute "C", "D"\n    drop table(:t)\n  end\n'
                 '  def change do\n    execute "never"\n  end')
    m = parse_migration(src)
    assert [s.sql for s in migration_sql(m, "up")] == ["A"]
    assert [s.sql for s in migration_sql(m, "down")] == ["C", 'DROP TABLE "t"']


def test_no_callback_is_an_input_error():
    with pytest.raises(InputError, match="does not implement up/0 or change/0"):
        migration_sql(parse_migration(module("  def down, do: :ok")))
    with pytest.raises(InputError, match="direction"):
        migration_sql(parse_migration(change("flush()")), "sideways")


def test_unknown_code_is_reported_or_skipped():
    body = "for t <- [:a, :b] do\n create table(t)\n end\ncreate table(:c)"
    with pytest.raises(InputError, match="M:5: `for t <- "):
        sql(body)
    skipped = []
    assert sql(body, on_dynamic=skipped.append) == [
        'CREATE TABLE "c" ("id" bigserial, PRIMARY KEY ("id"))']
    assert isinstance(skipped[0], Unknown)


def test_module_attributes_resolve_and_unresolved_ones_are_dynamic():
    src = module('  @table "events"\n  def change do\n    create index(@table, [:at])\n'
                 '    create index(@other, [:at])\n  end')
    skipped = []
    out = migration_sql(parse_migration(src), on_dynamic=skipped.append)
    assert [s.sql for s in out] == ['CREATE INDEX "events_at_index" ON "events" ("at")']
    assert [op.line for op in skipped] == [7]


# ---- file names ----------------------------------------------------------------------------------

def test_migration_version_and_sorting(tmp_path):
    assert migration_version("priv/repo/migrations/20240101120000_create_posts.exs") == \
        20240101120000
    with pytest.raises(InputError, match="not a migration file name"):
        migration_version("priv/repo/migrations/create_posts.exs")
    names = ["20240102_b.exs", "3_c.exs", "20240101_a.exs", "notes.md", "20240103_x.ex",
             "seeds.exs"]
    # numeric order (3 before 2024…), .ex and non-migration files left out, as Ecto does
    assert [p.name for p in sort_migrations([tmp_path / n for n in names])] == \
        ["3_c.exs", "20240101_a.exs", "20240102_b.exs"]
    with pytest.raises(InputError, match="duplicated"):
        sort_migrations(["1_a.exs", "1_b.exs"])
