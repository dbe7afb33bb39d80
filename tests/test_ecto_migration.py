"""The Elixir layer and the migration model, on realistic migrations in tests/fixtures/migrations,
plus a round trip: their SQL applied to a real PostgreSQL gives the catalog Ecto would create."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.ecto import elixir as ex
from tools.ecto.elixir import Atom, Charlist, Expr
from tools.ecto.migration import (
    AlterTable, ColumnChange, CreateConstraint, CreateIndex, DataChange,
    DropConstraint, Execute, Flush, Fragment, Index, Reference, RenameColumn, Table, Timestamps,
    Unknown, parse_migration, sort_migrations, timestamp_columns,
)
from tools.ecto.migration_sql import migration_sql
from tools.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "migrations"


def load(name: str):
    [path] = FIXTURES.glob(f"*_{name}.exs")
    return parse_migration(path.read_text(), path)


def value_of(expr: str, **kw):
    tree = ex.parse(f"x = {expr}")
    return ex.value(ex.named_children(tree.root_node)[0].child_by_field_name("right"), **kw)


# ---- elixir layer --------------------------------------------------------------------------------

@pytest.mark.parametrize("source,expected", [
    (":posts", Atom("posts")),
    (':"time without time zone"', Atom("time without time zone")),
    ('"a\\n\\"b\\" \\u00e9"', 'a\n"b" é'),
    ("~s(a\\)b)", "a)b"),
    ("~S(raw\\n)", "raw\\n"),
    ("~w(a b)a", [Atom("a"), Atom("b")]),
    ("'chars'", Charlist("chars")),
    ("1_000", 1000),
    ("0x1F", 31),
    ("-2", -2),
    ("1.5e3", 1500.0),
    ("?a", 97),
    ("true", True),
    ("nil", None),
    ("{:array, :string}", (Atom("array"), Atom("string"))),
    ("[null: false, default: 0]", [(Atom("null"), False), (Atom("default"), 0)]),
    ("[1, a: 2]", [1, (Atom("a"), 2)]),
    ('%{"k" => 1, a: [2]}', {"k": 1, Atom("a"): [2]}),
    ('["a b": 1]', [(Atom("a b"), 1)]),
])
def test_literal_values(source, expected):
    got = value_of(source)
    assert got == expected and type(got) is type(expected)


def test_heredoc_strips_the_closing_indentation():
    assert value_of('"""\n    SELECT 1\n      FROM t \\\n    WHERE x\n    """') == \
        "SELECT 1\n  FROM t WHERE x\n"
    assert value_of('~S"""\n  raw \\n #{x}\n  """') == "raw \\n #{x}\n"


def test_dynamic_values_are_exprs_with_call_info():
    frag = value_of('fragment("now()")')
    assert frag == Expr('fragment("now()")', 1, "fragment", ("now()",)) and frag.is_call("fragment", 1)
    assert value_of("@table") == Expr("@table", 1)
    assert value_of("@table", attrs={"table": "posts"}) == "posts"
    assert isinstance(value_of('"a#{b}"'), Expr)
    assert isinstance(value_of("%Post{a: 1}"), Expr)
    assert value_of("Repo.update_all(q, set: [a: 1])").call == "Repo.update_all"


def test_calls_see_through_pipes_and_parentheses():
    tree = ex.parse("from(p in Post) |> repo().update_all(set: [a: 1])\n(create(index(:t, [:a])))")
    first, second = ex.named_children(tree.root_node)
    call = ex.as_call(first)
    assert (call.name, call.function, len(call.args)) == ("repo().update_all", "update_all", 2)
    assert ex.as_call(second).name == "create"
    names = [c.name for c in ex.iter_calls(tree.root_node)]
    assert names == ["repo().update_all", "from", "repo", "create", "index"]


@pytest.mark.parametrize("source,line", [
    ('defmodule A do\n  def change do\n    add :a, "x\n  end\nend\n', 3),
    ("x = [1, 2\ny = 3\n", 2),
    ("f(a, b))\n", 1),
])
def test_syntax_errors_are_one_line_input_errors(source, line):
    with pytest.raises(InputError, match=rf"^cannot parse Elixir: syntax error at line {line}"):
        ex.parse(source)


# ---- migrations ----------------------------------------------------------------------------------

def test_phx_gen_auth_style_create_tables():
    m = load("create_users_auth_tables")
    assert m.module == "Blog.Repo.Migrations.CreateUsersAuthTables"
    assert m.version == 20240101090000 and m.uses == ["Ecto.Migration"]
    assert not m.disable_ddl_transaction and not m.disable_migration_lock
    assert m.up is None and m.down is None
    ops = m.change.ops
    assert [type(o).__name__ for o in ops] == [
        "Execute", "CreateTable", "CreateIndex", "CreateTable", "CreateIndex", "CreateIndex"]
    assert [o.line for o in ops] == [5, 7, 15, 17, 26, 27]
    assert ops[0].up == "CREATE EXTENSION IF NOT EXISTS citext" and ops[0].down == ""
    assert ops[0].reversible

    users = ops[1]
    assert users.table == Table(Atom("users"), {}, 7) and users.table.primary_key is True
    email, password, confirmed, stamps = users.columns
    assert email == ColumnChange(action="add", column=Atom("email"), type=Atom("citext"),
                                 opts={"null": False}, line=8)
    assert isinstance(stamps, Timestamps) and stamps.opts == {"type": Atom("utc_datetime")}
    assert stamps.line == 12

    token_user = ops[3].columns[0]
    ref = token_user.type
    assert isinstance(ref, Reference) and ref.table == "users"
    assert ref.on_delete == "delete_all" and ref.on_update == "nothing" and ref.validate is True
    assert ref.column is None and ref.type is None  # repo defaults, resolved by migration_sql
    assert token_user.opts == {"null": False}
    [inserted] = timestamp_columns(ops[3].columns[-1])
    assert (inserted.column, inserted.type, inserted.opts) == \
        ("inserted_at", "utc_datetime", {"null": False})

    index = ops[2].index
    assert index.unique and index.name == "users_email_index" and index.columns == [Atom("email")]
    assert ops[5].index.name == "users_tokens_context_token_index"


def test_generated_context_with_defaults_and_index_options():
    m = load("create_posts")
    create = m.change.ops[0]
    assert create.table.comment == "Blog posts"
    by_name = {c.column: c for c in create.columns if isinstance(c, ColumnChange)}
    assert by_name["price"].opts == {"precision": 10, "scale": 2}
    assert by_name["tags"].type == (Atom("array"), Atom("string")) and by_name["tags"].opts == {"default": []}
    assert by_name["meta"].opts == {"default": {}}
    assert by_name["published_at"].opts == {"default": Fragment("now()")}
    assert by_name["author_id"].type.on_delete == "nilify_all"
    lower = m.change.ops[2].index
    assert lower.columns == ["lower(title)"] and not isinstance(lower.columns[0], Atom)
    assert lower.name == "posts_lower_title_index"
    covering = m.change.ops[3].index
    assert covering.columns == [Atom("author_id"), (Atom("desc_nulls_last"), Atom("published_at"))]
    assert covering.where == "published" and covering.include == [Atom("title")]
    assert m.change.ops[3].line == 21


def test_weird_but_valid_formatting():
    m = load("add_slug_to_posts")
    assert m.attributes["table"].value == Atom("posts") and m.attributes["table"].line == 4
    piped, keyword_do, parens, bare = m.change.ops
    assert isinstance(piped, AlterTable) and piped.table.name == "posts" and piped.line == 7
    slug, editor = piped.changes
    assert slug.opts == {"size": 120, "null": True} and slug.line == 10
    assert editor.type.opts == {"on_delete": Atom("restrict"), "validate": False}
    assert editor.line == 16
    assert isinstance(keyword_do, AlterTable) and keyword_do.table.name == "posts"
    assert keyword_do.changes[0].opts == {"comment": "Shown in listings"}
    assert isinstance(parens, CreateIndex) and parens.index.name == "posts_editor_id_index"
    assert bare.index.name == Atom("posts_recent_index") and bare.index.using == "brin"


def test_concurrent_index_migration_attributes():
    m = load("index_posts_slug_concurrently")
    assert m.disable_ddl_transaction and m.disable_migration_lock
    assert m.attributes["disable_ddl_transaction"].line == 4
    [op] = m.change.ops
    assert op.index.concurrently is True and op.index.unique is True
    assert op.index.where == "slug IS NOT NULL" and op.line == 8
    [stmt] = migration_sql(m)
    assert stmt.in_transaction is False


def test_up_down_with_execute_heredocs_and_flush():
    m = load("add_posts_triggers_and_checks")
    assert m.change is None
    ops = m.up.ops
    assert [type(o) for o in ops] == [Execute, Execute, CreateConstraint, Flush, Execute]
    assert ops[0].up.startswith("CREATE OR REPLACE FUNCTION posts_touch_updated_at()")
    assert "\n  NEW.updated_at = now();\n" in ops[0].up and ops[0].up.endswith("plpgsql\n")
    assert not ops[0].reversible
    assert ops[1].up.startswith("CREATE TRIGGER posts_touch_updated_at\n  BEFORE UPDATE")
    check = ops[2].constraint
    assert (check.table, check.name, check.check, check.validate) == \
        ("posts", "views_non_negative", "views >= 0", False)
    assert [o.line for o in ops] == [5, 14, 20, 21, 22]
    down = m.down.ops
    assert isinstance(down[0], DropConstraint) and down[0].line == 26
    assert [o.up for o in down[1:]] == ["DROP TRIGGER posts_touch_updated_at ON posts",
                                        "DROP FUNCTION posts_touch_updated_at()"]


def test_data_migration_records_repo_calls():
    m = load("backfill_post_slugs")
    assert m.attributes["batch_size"].value == 1000
    query, update, loop = m.up.ops
    assert query == DataChange(receiver="repo()", function="query!",
                               sql="UPDATE posts SET views = 0 WHERE views IS NULL", line=10)
    assert (update.receiver, update.function, update.table, update.line) == \
        ("repo()", "update_all", "posts", 12)
    assert update.writes
    assert isinstance(loop, Unknown) and loop.line == 17
    [nested] = loop.data_changes
    assert (nested.receiver, nested.function, nested.table, nested.line) == \
        ("Blog.Repo", "delete_all", "users_tokens", 18)
    assert m.down.ops == []  # `def down, do: :ok`


def test_syntax_error_names_the_file_and_line():
    path = FIXTURES / "invalid" / "20240107090000_broken.exs"
    with pytest.raises(InputError) as info:
        parse_migration(path.read_text(), path)
    message = str(info.value)
    assert message == f"{path}: cannot parse Elixir: syntax error at line 6"
    assert "\n" not in message


def test_unrecognised_code_never_crashes():
    m = parse_migration("""
defmodule M do
  use Ecto.Migration
  import Ecto.Query

  def change do
    for t <- ~w(a b)a, do: create(table(t))
    Logger.info("hi")
    ids = repo().all(from(u in "users", select: u.id))
    create table(:x) do
      add :a, :string
      some_macro :b
    end
    rename table(:x), :a, to: :b
    execute &run/0
    create(unknown_thing())
  end

  defp run, do: :ok
end""")
    ops = m.change.ops
    assert [type(o).__name__ for o in ops] == [
        "Unknown", "Unknown", "DataChange", "CreateTable", "RenameColumn", "Execute", "Unknown"]
    assert ops[0].text == "for t <- ~w(a b)a, do: create(table(t))" and ops[0].line == 7
    assert ops[2].function == "all" and not ops[2].writes and ops[2].table == "users"
    assert isinstance(ops[3].columns[1], Unknown) and ops[3].columns[1].line == 12
    assert isinstance(ops[4], RenameColumn) and (ops[4].column, ops[4].to) == ("a", "b")
    assert isinstance(ops[5].up, Expr)
    assert m.functions["run"].private and m.functions["run"].ops == []


def test_not_a_module():
    with pytest.raises(InputError, match="no `defmodule`"):
        parse_migration("IO.puts(:hi)\n", "x.exs")


def test_index_defaults_follow_ecto():
    index = Index("posts", [Atom("title")], {"unique": True, "name": Atom("custom")})
    assert index.name == "custom" and index.concurrently is False and index.include == []
    assert Index("weird table!", ["a-b "], {}).name == "weird_table_a_b_index"


# ---- round trip against PostgreSQL ---------------------------------------------------------------

def apply(conn, migration, direction: str, skipped: list) -> None:
    statements = [s for s in migration_sql(migration, direction, on_dynamic=skipped.append)
                  if s.sql.strip()]  # execute(…, "") has nothing to run
    if migration.disable_ddl_transaction:
        for stmt in statements:
            assert stmt.in_transaction is False
            conn.execute(stmt.sql)
        return
    with conn.transaction():
        for stmt in statements:
            assert stmt.in_transaction is True
            conn.execute(stmt.sql)


def column_types(conn, table: str) -> dict[str, tuple[str, bool, str | None]]:
    rows = conn.execute("""
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""", (table,)).fetchall()
    return {name: (typ, notnull, default) for name, typ, notnull, default in rows}


@pytest.mark.db
def test_fixture_migrations_round_trip_on_postgres(fresh_db):
    import psycopg

    paths = sort_migrations(list(FIXTURES.iterdir()))
    assert [p.name[:14] for p in paths] == [f"2024010{i}090000" for i in range(1, 7)]
    migrations = [parse_migration(p.read_text(), p) for p in paths]
    skipped: list = []
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for m in migrations:
            apply(conn, m, "up", skipped)
        # only the Ecto-query backfills are left out: they need Elixir to build their SQL
        assert [(type(o).__name__, o.line) for o in skipped] == [("DataChange", 12), ("Unknown", 17)]

        posts = column_types(conn, "posts")
        assert posts["id"] == ("bigint", True, "nextval('posts_id_seq'::regclass)")
        assert posts["title"] == ("character varying(255)", True, None)
        assert posts["published"] == ("boolean", True, "false")
        assert posts["price"][0] == "numeric(10,2)"
        assert posts["tags"] == ("character varying(255)[]", False, "ARRAY[]::character varying[]")
        assert posts["meta"] == ("jsonb", False, "'{}'::jsonb")
        assert posts["published_at"] == ("timestamp without time zone", False, "now()")
        assert posts["inserted_at"] == ("timestamp(0) without time zone", True, None)
        assert posts["slug"][0] == "character varying(120)"
        users = column_types(conn, "users")
        assert users["email"] == ("citext", True, None)
        assert list(column_types(conn, "users_tokens")) == [
            "id", "user_id", "token", "context", "sent_to", "inserted_at"]
        assert column_types(conn, "users_tokens")["token"][0] == "bytea"

        indexes = dict(conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'").fetchall())
        assert set(indexes) == {
            "users_pkey", "users_email_index", "users_tokens_pkey", "users_tokens_user_id_index",
            "users_tokens_context_token_index", "posts_pkey", "posts_author_id_index",
            "posts_lower_title_index", "posts_author_id_published_at_index",
            "posts_editor_id_index", "posts_recent_index", "posts_slug_index"}
        assert indexes["posts_slug_index"] == (
            "CREATE UNIQUE INDEX posts_slug_index ON public.posts USING btree (slug) "
            "WHERE (slug IS NOT NULL)")
        assert indexes["posts_author_id_published_at_index"] == (
            "CREATE INDEX posts_author_id_published_at_index ON public.posts USING btree "
            "(author_id, published_at DESC NULLS LAST) INCLUDE (title) WHERE published")
        assert "USING brin (inserted_at)" in indexes["posts_recent_index"]
        assert "(lower((title)::text))" in indexes["posts_lower_title_index"]

        constraints = {name: (kind, valid, definition) for name, kind, valid, definition in
                       conn.execute("""
            SELECT conname, contype, convalidated, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace""").fetchall()}
        assert constraints["users_tokens_user_id_fkey"] == (
            "f", True, "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE")
        assert constraints["posts_author_id_fkey"] == (
            "f", True, "FOREIGN KEY (author_id) REFERENCES users(id) ON DELETE SET NULL")
        assert constraints["posts_editor_id_fkey"] == (
            "f", False, "FOREIGN KEY (editor_id) REFERENCES users(id) ON DELETE RESTRICT NOT VALID")
        assert constraints["views_non_negative"] == ("c", True, "CHECK ((views >= 0))")
        assert constraints["posts_pkey"][0] == "p"

        comments = conn.execute("""
            SELECT obj_description('posts'::regclass, 'pg_class'),
                   col_description('posts'::regclass, (SELECT attnum FROM pg_attribute
                       WHERE attrelid = 'posts'::regclass AND attname = 'summary'))""").fetchone()
        assert comments == ("Blog posts", "Shown in listings")
        assert conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall() == \
            [("posts_touch_updated_at",)]

        # and back down, newest first, to an empty schema
        for m in reversed(migrations):
            apply(conn, m, "down", skipped)
        left = conn.execute("""SELECT relname FROM pg_class
            WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'i', 'S')
            """).fetchall()
        assert left == []
