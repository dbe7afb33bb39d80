"""Reading columns and their roles out of the condition strings EXPLAIN prints."""

from __future__ import annotations

import pytest

from tools.explain.exprs import (
    BOOLEAN,
    CONTAINS,
    EQUALITY,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    JOIN,
    LIKE,
    OTHER,
    RANGE,
    columns,
    index_columns,
    parse_condition,
    partial_predicates,
    sort_keys,
)


def roles(expr: str, **kw) -> list[tuple[str, str]]:
    return [(u.column, u.role) for u in parse_condition(expr, **kw)]


@pytest.mark.parametrize(
    "expr,expected",
    [
        ("((customer_id = 42) AND ((status)::text = 'open'::text))", [("customer_id", EQUALITY), ("status", EQUALITY)]),
        ("(t.created_at >= '2024-01-01 00:00:00'::timestamp without time zone)", [("created_at", RANGE)]),
        ("(lower((email)::text) = 'a@b.c'::text)", [("lower(email)", EQUALITY)]),
        ("(customer_id = ANY ('{1,2}'::bigint[]))", [("customer_id", IN)]),
        ("(deleted_at IS NULL)", [("deleted_at", IS_NULL)]),
        ("(confirmed_at IS NOT NULL)", [("confirmed_at", IS_NOT_NULL)]),
        ("((name)::text ~~ 'foo%'::text)", [("name", LIKE)]),
        ("((title)::text ~* 'sql'::text)", [("title", LIKE)]),
        ("(x <> 3)", [("x", OTHER)]),
        ("(tags @> '{a}'::text[])", [("tags", CONTAINS)]),
        ("active", [("active", BOOLEAN)]),
        ("(NOT archived)", [("archived", BOOLEAN)]),
        ("(price BETWEEN 1 AND 10)", [("price", RANGE)]),
        ("(1 = rel_users_exams.exam_id)", [("exam_id", EQUALITY)]),  # constant on the left
        ("((created_at)::date = '2024-01-01'::date)", [("(created_at::date)", EQUALITY)]),
        ("((data ->> 'kind'::text) = 'x'::text)", [("(data ->> 'kind')", EQUALITY)]),
        ("(user_id = $1)", [("user_id", EQUALITY)]),
        ("(id = (SubPlan 1))", [("id", EQUALITY)]),
        ("(x = (InitPlan 1).col1)", [("x", EQUALITY)]),
        ("(id = (hashed SubPlan 2))", [("id", EQUALITY)]),
        ('(c.relkind = ANY (\'{r,p}\'::"char"[]))', [("relkind", IN)]),
    ],
)
def test_roles(expr, expected):
    assert roles(expr) == expected


def test_range_operator_flips_when_the_column_is_on_the_right():
    (use,) = parse_condition("(10 < amount)")
    assert use.role == RANGE and use.operator == ">" and use.value == "10"


def test_values_are_rendered_without_casts_noise():
    use = parse_condition("((status)::text = 'open'::text)")[0]
    assert use.value == "'open'" and use.predicate == "status = 'open'"
    use = parse_condition("(created_at >= '2024-01-01 00:00:00'::timestamp without time zone)")[0]
    assert use.value == "'2024-01-01 00:00:00'::timestamp"


def test_or_branches_are_marked():
    uses = parse_condition("((a = 1) OR (b = 2))")
    assert [(u.column, u.in_or) for u in uses] == [("a", True), ("b", True)]
    assert index_columns(uses) == []


def test_alias_decides_which_side_is_the_column():
    # An inner scan's condition referencing the outer relation: t2.b is a value, not a column.
    assert roles("((t1.a = t2.b) AND (t1.c > 5))", alias="t1") == [("a", EQUALITY), ("c", RANGE)]
    assert roles("((t1.a = t2.b) AND (t1.c > 5))", alias="t2") == [("b", EQUALITY)]
    # Without knowing the relation, two qualified columns make a join key.
    assert roles("(t1.a = t2.b)") == [("a", JOIN), ("b", JOIN)]
    # An Index Cond leaves the scanned relation's column bare.
    (use,) = parse_condition("(unique1 = t2.twenty)")
    assert (use.column, use.role, use.value) == ("unique1", EQUALITY, "t2.twenty")


def test_relation_name_also_counts_as_own_qualifier():
    assert roles("(tickets.customer_id = 1)", alias="t", relation="tickets") == [("customer_id", EQUALITY)]
    assert roles("(other.customer_id = 1)", alias="t", relation="tickets") == []


def test_columns_helper_is_distinct_and_ordered():
    expr = "((b = 1) AND (a > 2) AND (b <> 3))"
    assert columns(expr) == ["b", "a"]


def test_index_columns_equality_first_then_one_range():
    uses = parse_condition(
        "((created_at >= now()) AND (customer_id = 42) AND ((status)::text = 'open'::text) AND (x < 3) "
        "AND (deleted_at IS NULL))"
    )
    assert index_columns(uses) == ["customer_id", "status", "created_at"]
    assert partial_predicates(uses) == ["deleted_at IS NULL"]


def test_index_columns_in_list_counts_as_equality_like():
    uses = parse_condition("((created_at > '2024-01-01'::date) AND (id = ANY ('{1,2}'::integer[])))")
    assert index_columns(uses) == ["id", "created_at"]


def test_column_used_twice_keeps_its_best_role():
    uses = parse_condition("((a > 1) AND (a = 2) AND (b < 4))")
    assert index_columns(uses) == ["a", "b"]


@pytest.mark.parametrize("bad", ["this is not sql (", "", None, "((a = 1)", "(a = ANY ("])
def test_unparsable_returns_nothing(bad):
    assert parse_condition(bad) == []
    assert columns(bad) == []


def test_sort_keys():
    assert sort_keys(["t.created_at DESC", "id", "lower((email)::text)", "(SubPlan 1)"]) == [
        ("created_at", "desc"),
        ("id", "asc"),
        ("lower(email)", "asc"),
    ]
    assert sort_keys(["t1.a", "t2.b"], alias="t1") == [("a", "asc")]
    assert sort_keys(None) == []
