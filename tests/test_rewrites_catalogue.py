"""The rewrite catalogue without a database: every opportunity is documented, its examples fire
(or stay quiet) on the catalog facts they carry, its rewrites parse as SQL, and the Ecto written
for them parses as Elixir."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from tools.ecto.elixir import parse as parse_elixir
from tools.explain.plan import parse_plan
from tools.rewrites import OPPORTUNITIES, catalogue, opportunity
from tools.rewrites.catalog import Table
from tools.rewrites.ecto import render, schema_module, singular
from tools.rewrites.sql import parse_select
from tools.rewrites.tool import offline_find

EXPECTED = {"correlated-subquery", "not-in-nullable", "in-subquery", "offset-to-keyset", "count-total",
            "unused-wide-columns", "distinct-fanout", "latest-per-group"}

EXAMPLES = [pytest.param(o, i, ex, id=f"{o.id}-{i}-{'fires' if ex.fires else 'quiet'}")
            for o in OPPORTUNITIES for i, ex in enumerate(o.examples)]


def run_example(o, ex):
    tables = {name: Table.from_spec(name, spec) for name, spec in ex.tables.items()}
    plan = parse_plan(ex.plan) if ex.plan else None
    return [d for d in offline_find(ex.sql, tables, plan, ex.params) if d.finding.id == o.id]


def test_catalogue_is_complete_and_documented():
    assert {o.id for o in OPPORTUNITIES} == EXPECTED
    for doc in catalogue():
        assert all(doc[k].strip() for k in ("title", "detects", "why", "fix", "thresholds")), doc["id"]
    assert opportunity("not-in-nullable").id == "not-in-nullable"


@pytest.mark.parametrize("o", OPPORTUNITIES, ids=lambda o: o.id)
def test_one_module_per_opportunity_with_both_kinds_of_example(o):
    assert type(o).__module__.rsplit(".", 1)[-1] == o.id.replace("-", "_")
    assert any(ex.fires for ex in o.examples) and any(not ex.fires for ex in o.examples)


@pytest.mark.parametrize("o,i,ex", EXAMPLES)
def test_example(o, i, ex):
    found = run_example(o, ex)
    if not ex.fires:
        assert found == [], [d.finding.title for d in found]
        return
    assert found, f"{o.id} example {i} should fire"
    finding = found[0].finding
    assert finding.title and finding.evidence
    sqls = [p.candidate.sql for p in found[0].proposals]
    for fragment in ex.expect:
        assert any(fragment in sql for sql in sqls), (fragment, sqls)
    for proposal in found[0].proposals:
        cand = proposal.candidate
        assert len(parse_sql(cand.sql)) == 1  # the rewrite is one valid statement
        parse_elixir(cand.ecto)  # and its Ecto is valid Elixir
        assert cand.semantics
        assert cand.status == "unverified"  # nothing proposed before it ran


def test_not_in_nullable_says_which_rewrite_changes_results():
    o = opportunity("not-in-nullable")
    (detected,) = run_example(o, o.examples[0])
    plain, exact = [p.candidate for p in detected.proposals]
    assert "NULL" in plain.changes_results and "no row at all" in plain.changes_results
    assert exact.changes_results is None and "NOT IN's" in exact.label
    (detected,) = run_example(o, o.examples[1])
    assert [p.candidate.changes_results for p in detected.proposals] == [None]


# ---- the Ecto writer ----------------------------------------------------------------------------

def ecto(sql: str, **kwargs) -> str:
    text = render(parse_select(sql), **kwargs)
    parse_elixir(text)
    return text


def test_names():
    assert schema_module("order_items") == "OrderItem"
    assert schema_module("categories") == "Category"
    assert schema_module("addresses") == "Address"
    assert singular("status") == "status"


def test_exists_with_parent_as():
    text = ecto('SELECT c0."id" FROM "customers" AS c0 WHERE NOT EXISTS (SELECT 1 FROM "orders" AS so0 '
                'WHERE so0."customer_id" = c0."id")')
    assert "from c in Customer,\n  as: :customer," in text
    assert "where: not(exists(from o in Order, where: o.customer_id == parent_as(:customer).id))" in text


def test_lateral_join_and_window():
    text = ecto("SELECT s1.* FROM conversations AS c1 CROSS JOIN LATERAL (SELECT m0.id FROM messages AS m0 "
                "WHERE m0.conversation_id = c1.id ORDER BY m0.inserted_at DESC LIMIT 1) AS s1 "
                "WHERE c1.id = ANY($1::bigint[])", subquery_names={"s1": "latest"})
    assert "inner_lateral_join: l in subquery(latest)" in text and "on: true" in text
    assert "where: c.id in ^ids" in text
    text = ecto("SELECT m.id, row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.inserted_at DESC) AS rn "
                "FROM messages m")
    assert "over(row_number(), partition_by: m.conversation_id, order_by: [desc: m.inserted_at])" in text


def test_operators_params_and_fragments():
    text = ecto("SELECT t.id FROM tickets t WHERE t.status IN ('open', 'new') AND t.title ILIKE $1 AND "
                "t.deleted_at IS NULL AND t.assignee_id <> $2 AND lower(t.email) = $3 "
                "ORDER BY t.inserted_at DESC NULLS LAST LIMIT 20 OFFSET $4")
    for piece in ['t.status in ["open", "new"]', "ilike(t.title, ^title)", "is_nil(t.deleted_at)",
                  "t.assignee_id != ^assignee_id", 'fragment("lower(?)", t.email) == ^p3',
                  "order_by: [desc_nulls_last: t.inserted_at]", "limit: 20", "offset: ^offset"]:
        assert piece in text, (piece, text)


def test_row_comparison_is_a_fragment():
    text = ecto("SELECT t.id FROM transactions t WHERE (t.inserted_at, t.id) < ($1, $2) ORDER BY t.inserted_at DESC",
                param_names={1: "last_inserted_at", 2: "last_id"})
    assert 'fragment("(?, ?) < (?, ?)", t.inserted_at, t.id, ^last_inserted_at, ^last_id)' in text
