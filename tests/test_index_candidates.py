"""Reading Ecto's SQL into index candidates, without a database: the catalog is built by hand."""

from __future__ import annotations

import pytest

from tools.errors import InputError
from tools.indexes.candidates import (
    IndexDef,
    access_keys,
    covered_by_existing,
    generate,
    is_literal,
    read_query,
    redundant_existing,
)
from tools.indexes.catalog import Column, ExistingIndex, TableInfo, norm_key


def table(name: str, columns: dict[str, tuple[str, int | None, float | None]], *, pages: int = 5000,
          tuples: float = 500_000, indexes: list[ExistingIndex] = ()) -> TableInfo:
    info = TableInfo(oid=1, schema="public", name=name, kind="r", pages=pages, tuples=tuples, all_visible=pages)
    for col, (typ, width, distinct) in columns.items():
        info.columns[col] = Column(col, typ, width, distinct, 8 if typ in ("bigint", "timestamp") else -1)
    info.indexes = list(indexes)
    return info


EVENTS = {"id": ("bigint", 8, 500_000), "account_id": ("bigint", 8, 3000), "kind": ("text", 10, 8),
          "occurred_at": ("timestamp", 8, 400_000), "subject_id": ("bigint", 8, 100_000),
          "payload": ("text", 400, None)}


def existing(name, keys, *, include=(), where=None, unique=False, primary=False) -> ExistingIndex:
    return ExistingIndex(name, tuple(keys), tuple(include), where, unique, primary, primary, True, "btree", 0, 0)


def only_access(sql: str):
    shape = read_query(sql)
    assert len(shape.accesses) == 1
    return shape.accesses[0]


def test_ecto_select_is_read_with_alias_roles_sort_and_limit():
    a = only_access('SELECT e0."id", e0."kind" FROM "events" AS e0 WHERE ((e0."account_id" = $1) AND '
                    '(e0."occurred_at" >= $2)) ORDER BY e0."occurred_at" DESC LIMIT 100')
    assert (a.table, a.alias, a.limit) == ("events", "e0", True)
    keys = access_keys(a, table("events", EVENTS))
    assert keys.equality == ["account_id"]
    assert keys.ranges == ["occurred_at"]
    assert keys.sort == ["occurred_at"]
    # the sort column is the range column: equality, then that one column, serves both
    assert ("account_id", "occurred_at") in {c.keys for c in generate(a, table("events", EVENTS))}
    assert keys.referenced == {"id", "kind", "account_id", "occurred_at"}


def test_equality_sort_range_orders_and_both_variants():
    a = only_access('SELECT e0."id" FROM "events" AS e0 WHERE (e0."account_id" = $1) AND (e0."subject_id" > $2) '
                    'ORDER BY e0."occurred_at" LIMIT 10')
    cands = {c.keys for c in generate(a, table("events", EVENTS)) if not c.where and not c.include}
    assert ("account_id", "occurred_at", "subject_id") in cands  # ESR
    assert ("account_id", "subject_id", "occurred_at") in cands  # ERS
    assert ("account_id",) in cands


def test_equality_columns_lead_most_selective_first_and_in_counts_as_equality():
    a = only_access('SELECT e0."id" FROM "events" AS e0 WHERE (e0."kind" = $1) AND (e0."account_id" = ANY($2))')
    keys = access_keys(a, table("events", EVENTS))
    # equality (=) first, then IN/ANY probes
    assert keys.equality == ["kind", "account_id"]
    b = only_access('SELECT e0."id" FROM "events" AS e0 WHERE (e0."kind" = $1) AND (e0."account_id" = $2)')
    assert access_keys(b, table("events", EVENTS)).equality == ["account_id", "kind"]  # most distinct first


def test_mixed_sort_directions_need_desc_keys():
    a = only_access('SELECT e0."id" FROM "events" AS e0 WHERE (e0."account_id" = $1) '
                    'ORDER BY e0."kind", e0."occurred_at" DESC LIMIT 5')
    keys = access_keys(a, table("events", EVENTS))
    assert keys.sort == ["kind", "occurred_at DESC"]
    cands = {c.keys for c in generate(a, table("events", EVENTS))}
    assert ("account_id", "kind", "occurred_at DESC") in cands


def test_literal_predicates_become_partial_indexes_params_do_not():
    literal = only_access("SELECT o0.\"id\" FROM \"events\" AS o0 WHERE (o0.\"kind\" = 'login') "
                          "AND (o0.\"payload\" IS NULL) ORDER BY o0.\"occurred_at\" LIMIT 50")
    wheres = {c.where for c in generate(literal, table("events", EVENTS))}
    assert "kind = 'login' AND payload IS NULL" in wheres
    assert "payload IS NULL" in wheres  # the null test alone, keeping kind in the key
    partial = [c for c in generate(literal, table("events", EVENTS)) if c.where == "kind = 'login' AND payload IS NULL"]
    assert ("occurred_at",) in {c.keys for c in partial}
    param = only_access('SELECT o0."id" FROM "events" AS o0 WHERE (o0."kind" = $1) ORDER BY o0."occurred_at" LIMIT 50')
    assert all(c.where is None for c in generate(param, table("events", EVENTS)))


def test_boolean_columns_are_literal_predicates():
    a = only_access('SELECT p0."id" FROM "products" AS p0 WHERE ((p0."category_id" = $1) AND p0."active") '
                    'ORDER BY p0."price_cents" LIMIT 24')
    info = table("products", {"id": ("bigint", 8, 50_000), "category_id": ("bigint", 8, 200),
                              "active": ("boolean", 1, 2), "price_cents": ("integer", 4, 40_000)})
    cands = generate(a, info)
    assert IndexDef("products", ("category_id", "price_cents"), where="active") in cands
    assert IndexDef("products", ("category_id", "price_cents")) in cands


def test_expressions_of_columns_become_expression_keys():
    a = only_access('SELECT u0."id" FROM "users" AS u0 WHERE (lower(u0."email") = $1)')
    info = table("users", {"id": ("bigint", 8, 100_000), "email": ("character varying(255)", 24, 100_000)})
    cands = generate(a, info)
    assert IndexDef("users", ("lower(email)",)) in cands
    assert cands[0].sql() == "CREATE INDEX CONCURRENTLY users_lower_email_index ON users (lower(email));"


def test_narrow_selects_get_covering_variants_wide_ones_do_not():
    narrow = only_access('SELECT sum(e0."subject_id") FROM "events" AS e0 WHERE (e0."account_id" = $1)')
    cands = generate(narrow, table("events", EVENTS))
    assert IndexDef("events", ("account_id",), include=("subject_id",)) in cands
    wide = only_access('SELECT e0."payload" FROM "events" AS e0 WHERE (e0."account_id" = $1)')
    assert not any(c.include for c in generate(wide, table("events", EVENTS)))  # 400-byte payload
    star = only_access('SELECT * FROM "events" AS e0 WHERE (e0."account_id" = $1)')
    assert not any(c.include for c in generate(star, table("events", EVENTS)))


def test_joins_give_each_side_its_equality_column():
    shape = read_query('SELECT c0."id" FROM "comments" AS c0 INNER JOIN "tickets" AS t1 ON t1."id" = c0."ticket_id" '
                       'WHERE (t1."customer_id" = $1)')
    by_alias = {a.alias: a for a in shape.accesses}
    comments = table("comments", {"id": ("bigint", 8, 1e5), "ticket_id": ("bigint", 8, 5e4)})
    tickets = table("tickets", {"id": ("bigint", 8, 5e4), "customer_id": ("bigint", 8, 1e3)})
    assert access_keys(by_alias["c0"], comments).equality == ["ticket_id"]
    # the query's own value leads; the join key counts only on the inner side of a nested loop
    assert access_keys(by_alias["t1"], tickets).equality == ["customer_id", "id"]


def test_subqueries_ctes_and_writes_are_read_too():
    shape = read_query('WITH recent AS (SELECT e0."account_id" FROM "events" AS e0 WHERE (e0."occurred_at" > $1)) '
                       'SELECT a0."id" FROM "accounts" AS a0 WHERE EXISTS (SELECT 1 FROM "events" AS e1 '
                       'WHERE e1."account_id" = a0."id" AND e1."kind" = $2) '
                       'AND a0."id" IN (SELECT account_id FROM recent)')
    assert sorted(a.table for a in shape.accesses) == ["accounts", "events", "events"]  # not the CTE
    update = read_query('UPDATE "orders" AS o0 SET "status" = $1 WHERE (o0."customer_id" = $2)')
    (target,) = update.accesses
    assert target.write_target and update.set_columns == {"status"}
    insert = read_query('INSERT INTO "orders" ("status") VALUES ($1)')
    assert insert.accesses[0].write_target and insert.verb == "INSERT"


def test_tiny_tables_and_views_get_no_candidates():
    a = only_access('SELECT e0."id" FROM "events" AS e0 WHERE (e0."account_id" = $1)')
    assert generate(a, table("events", EVENTS, pages=3, tuples=200)) == []
    view = table("events", EVENTS)
    view.kind = "v"
    assert generate(a, view) == []


def test_existing_indexes_and_their_prefixes_remove_candidates():
    info = table("events", EVENTS,
                 indexes=[existing("events_account_id_occurred_at_index", ["account_id", "occurred_at"])])
    a = only_access('SELECT e0."id" FROM "events" AS e0 WHERE (e0."account_id" = $1) ORDER BY e0."occurred_at" LIMIT 5')
    keys = {c.keys for c in generate(a, info) if not c.include}
    assert ("account_id",) not in keys and ("account_id", "occurred_at") not in keys
    assert covered_by_existing(IndexDef("events", ("account_id",)), info)
    assert not covered_by_existing(IndexDef("events", ("account_id",), where="kind = 'x'"), info)
    assert not covered_by_existing(IndexDef("events", ("occurred_at",)), info)


def test_a_wider_index_makes_plain_prefixes_redundant_but_not_unique_ones():
    info = table("events", EVENTS, indexes=[existing("events_account_id_index", ["account_id"]),
                                            existing("events_account_id_kind_key", ["account_id", "kind"], unique=True),
                                            existing("events_pkey", ["id"], unique=True, primary=True)])
    assert redundant_existing(IndexDef("events", ("account_id", "occurred_at")), info) == ["events_account_id_index"]
    assert redundant_existing(IndexDef("events", ("occurred_at",)), info) == []


def test_literal_detection_and_key_normalisation():
    assert is_literal("'open'") and is_literal("42") and is_literal("'2024-01-01'::date") and is_literal("true")
    assert not is_literal("$1") and not is_literal("t1.id") and not is_literal(None)
    assert norm_key("lower((email)::text)") == norm_key("lower(email)")
    assert norm_key('"Status"') == norm_key("status")


def test_unparsable_sql_is_input_error():
    with pytest.raises(InputError, match="cannot parse"):
        read_query("SELEC 1")
    with pytest.raises(InputError, match="one statement"):
        read_query("SELECT 1; SELECT 2")


def test_a_partial_covering_index_leaves_out_what_its_predicate_implies():
    a = only_access("SELECT e0.\"id\", e0.\"subject_id\" FROM \"events\" AS e0 WHERE (e0.\"kind\" = 'login') "
                    "AND (e0.\"account_id\" = $1)")
    assert a.condition_only == {"kind", "account_id"}
    cands = generate(a, table("events", EVENTS), rows=500)
    assert IndexDef("events", ("account_id",), where="kind = 'login'", include=("id", "subject_id")) in cands
    # a full index must carry kind, so the payload is three columns: not a narrow select any more
    assert not any(c.include and not c.where for c in cands if c.keys == ("account_id",))


def test_covering_variants_need_a_query_that_reads_many_rows():
    a = only_access('SELECT sum(e0."subject_id") FROM "events" AS e0 WHERE (e0."account_id" = $1)')
    assert any(c.include for c in generate(a, table("events", EVENTS), rows=500))
    assert not any(c.include for c in generate(a, table("events", EVENTS), rows=3))
    lookup = only_access('SELECT u0."id" FROM "users" AS u0 WHERE (lower(u0."email") = $1)')
    info = table("users", {"id": ("bigint", 8, 100_000), "email": ("character varying(255)", 24, 100_000)},
                 tuples=100_000)
    # no statistics on lower(email) yet: the planner guesses 500 rows, the column says 1
    assert not any(c.include for c in generate(lookup, info, rows=500))
