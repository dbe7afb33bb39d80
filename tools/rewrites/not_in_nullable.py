from __future__ import annotations

from pglast import ast
from pglast.enums import BoolExprType, SubLinkType

from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, compare_mode,
    display_params, is_hashed, qualified, subplans,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    and_all, bool_path, clone, colref, compact_params, conjuncts, deparse, eq, exists, is_not_null_term,
    make_colref, not_, null_test, one, or_all, simple_subselect, sublinks,
)

_TABLES = {
    "customers": {"columns": {"id": "bigint not null", "email": "character varying(255) not null",
                              "inserted_at": "timestamp without time zone not null"}, "unique": [["id"]]},
    "orders": {"columns": {"id": "bigint not null", "customer_id": "bigint", "status": "text not null"},
               "unique": [["id"]], "fks": {"customer_id": "customers.id"}},
}


class NotInNullable(Opportunity):
    """Fires on a top-level `NOT (x IN (SELECT col FROM t ...))` in WHERE whose subquery reads one
    table. Nullability comes from the catalog: the column is nullable unless NOT NULL or the
    subquery filters `col IS NOT NULL`.

    Candidates: `NOT EXISTS (... col = x)`, proposed only when neither col nor x can be NULL;
    when col can, it is a behaviour change (reported with the rows it adds), and the rewrite
    proposed instead keeps NOT IN's meaning exactly: `NOT EXISTS (... col = x) AND NOT EXISTS
    (... col IS NULL)` (plus `x IS NOT NULL OR NOT EXISTS (...)` when x can be NULL).

    The plan is evidence, not a condition: PostgreSQL never turns NOT IN into an anti-join, so
    it runs as a SubPlan - hashed when the subquery's rows fit in work_mem, otherwise re-scanned
    for every outer row.
    """

    id = "not-in-nullable"
    title = "NOT IN (subquery): a per-row subplan, and no rows at all once the column holds a NULL"
    detects = "`x NOT IN (SELECT col FROM ...)`, as Ecto writes `x not in subquery(q)`."
    why = (
        "SQL's NOT IN is three-valued: if the subquery returns a single NULL, `x NOT IN (...)` is "
        "NULL for every x that matches nothing, so the query silently returns no rows. PostgreSQL "
        "also cannot plan NOT IN as an anti-join: it checks each outer row against the subquery's "
        "result, re-scanning it per row when it does not fit in work_mem."
    )
    fix = (
        "Write the anti-join the query means: `NOT EXISTS (SELECT 1 FROM t WHERE t.col = x)`, in Ecto "
        "`where: not exists(from o in Order, where: o.customer_id == parent_as(:customer).id)`. It "
        "ignores NULLs, which changes the result when the column holds any: decide which answer is right."
    )
    examples = [
        Example(
            sql='SELECT c0."id" FROM "customers" AS c0 WHERE NOT (c0."id" IN (SELECT so0."customer_id" '
                'FROM "orders" AS so0))',
            fires=True, tables=_TABLES,
            expect=["NOT EXISTS (SELECT 1 FROM orders AS so0 WHERE so0.customer_id = c0.id)",
                    "so0.customer_id IS NULL"],
            note="nullable orders.customer_id: NOT EXISTS changes results, the exact form is proposed"),
        Example(
            sql="SELECT c.id FROM customers c WHERE c.id NOT IN (SELECT o.customer_id FROM orders o "
                "WHERE o.customer_id IS NOT NULL AND o.status = 'paid')",
            fires=True, tables=_TABLES,
            expect=["NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.customer_id IS NOT NULL AND "
                    "o.status = 'paid' AND o.customer_id = c.id)"],
            note="the subquery filters out NULLs: NOT EXISTS is exact"),
        Example(
            sql="SELECT c.id FROM customers c WHERE c.id IN (SELECT o.customer_id FROM orders o)",
            fires=False, tables=_TABLES, note="IN, not NOT IN"),
        Example(
            sql="SELECT c.id FROM customers c WHERE c.id NOT IN (1, 2, 3)",
            fires=False, tables=_TABLES, note="a list, not a subquery"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        found = []
        for index, link in enumerate(sublinks(q.stmt)):
            if link.subLinkType != SubLinkType.ANY_SUBLINK or link.operName:
                continue
            path = bool_path(q.stmt.whereClause, link)
            # Only `... AND NOT (x IN (...))`: under OR or a double NOT the truth table differs.
            if not path or path[-1] != BoolExprType.NOT_EXPR or any(op != BoolExprType.AND_EXPR for op in path[:-1]):
                continue
            detected = self._one(q, index, link)
            if detected:
                found.append(detected)
        return found

    def _one(self, q: QueryContext, index: int, link: ast.SubLink) -> Detected | None:
        sub = link.subselect
        src = simple_subselect(sub)
        if src is None or len(sub.targetList or ()) != 1:
            return None
        ref = colref(sub.targetList[0].val)
        if ref is None or ref[0] not in (None, src.alias):
            return None
        column = ref[1]
        table = q.tables.get(src.relname or "")
        col_nullable = not (table and table.not_null(column)) and not any(
            is_not_null_term(t, src.alias, column) for t in conjuncts(sub.whereClause))
        outer = colref(link.testexpr)
        outer_table = q.table(outer[0]) if outer and outer[0] else None
        x_nullable = not (outer and outer_table and outer_table.not_null(outer[1]))
        where_col = qualified(table, column) if table else column

        # -- evidence from the plan
        evidence = []
        node_id = None
        for sp in subplans(q.plan):
            below = [n.relation for n in [sp, *q.plan.descendants(sp)] if n.relation]
            if src.relname in below:
                node_id = sp.id
                if is_hashed(q.plan, sp):
                    evidence.append(f"the subquery runs as a hashed {sp.subplan_name}: all of {src.relname} "
                                    "is read into a hash table that every outer row is checked against")
                else:
                    evidence.append(f"the subquery runs as {sp.subplan_name}, {sp.loops:,.0f} times: once per "
                                    f"outer row, each re-reading {src.relname}'s rows until one matches")
                break
        if col_nullable:
            evidence.insert(0, f"{where_col} can be NULL; a single NULL in the subquery makes "
                               f"`{deparse(link.testexpr)} NOT IN (...)` NULL for every row that matches "
                               "nothing, so those rows are never returned")
        evidence.append("PostgreSQL cannot plan NOT IN as an anti-join; NOT EXISTS it can")

        alias = src.alias

        def subquery_with(extra: list[ast.Node]) -> ast.SelectStmt:
            s = clone(sub)
            s.targetList = (one(),)
            s.whereClause = and_all(conjuncts(s.whereClause) + extra)
            return s

        def col() -> ast.ColumnRef:
            return make_colref(alias, column)

        def rewrite(replacement: ast.Node) -> ast.SelectStmt:
            stmt = clone(q.stmt)
            target = sublinks(stmt)[index]
            not_node = _parent_not(stmt.whereClause, target)
            terms = [r for t in conjuncts(stmt.whereClause) for r in (conjuncts(replacement) if t is not_node else [t])]
            stmt.whereClause = and_all(terms)
            return stmt

        anti = not_(exists(subquery_with([eq(col(), clone(link.testexpr))])))
        proposals = []
        compare = compare_mode(q)

        plain = rewrite(anti)
        changes = None
        if col_nullable:
            changes = (f"NOT EXISTS ignores NULLs: when the subquery returns a NULL {column}, NOT IN returns no "
                       "row at all while NOT EXISTS returns every row without a match")
        if x_nullable and not col_nullable:
            changes = (f"rows whose {deparse(link.testexpr)} is NULL: NOT IN drops them when the subquery "
                       "returns any row, NOT EXISTS keeps them")
        elif x_nullable:
            changes += f"; and rows whose {deparse(link.testexpr)} is NULL are kept by NOT EXISTS only"
        plain_cand = Candidate(
            label="NOT EXISTS", sql=deparse(plain), params=display_params(q.params), ecto=render(plain, q.tables),
            semantics=("NOT IN and NOT EXISTS agree when neither side can be NULL: "
                       f"{where_col} and {deparse(link.testexpr)} are NOT NULL" if not changes else
                       "the anti-join the query most likely means: rows with no match in the subquery"),
            changes_results=changes, compare=compare)
        probes = {}
        if col_nullable:
            null_q = subquery_with([null_test(col(), True)])
            null_q.targetList = (ast.ResTarget(val=ast.FuncCall(funcname=(ast.String(sval="count"),),
                                                                 agg_star=True)),)
            values = compact_params(null_q, q.params)
            probes["nulls"] = (Run(deparse(null_q), values),
                               f"the subquery returns {{value:,}} rows with a NULL {column}")
        proposals.append(Proposal(plain_cand, Variant([Run(plain_cand.sql, q.params)]), probes=probes))

        if col_nullable or x_nullable:
            terms = [anti]
            if col_nullable:
                terms.append(not_(exists(subquery_with([null_test(col(), True)]))))
            if x_nullable:
                terms.append(or_all([null_test(clone(link.testexpr), False), not_(exists(subquery_with([])))]))
            exact = rewrite(and_all(terms))
            exact_cand = Candidate(
                label="NOT EXISTS, keeping NOT IN's NULL semantics", sql=deparse(exact),
                params=display_params(q.params),
                ecto=render(exact, q.tables),
                semantics=("exactly NOT IN's truth table: no row matches x, and (the extra NOT EXISTS, run once) "
                           f"the subquery returns no NULL {column}" + (
                               "; a NULL x passes only when the subquery is empty" if x_nullable else "")),
                compare=compare,
                notes=["Use this to make the query fast without changing what it returns. If the empty "
                       "result was never intended, the plain NOT EXISTS is the fix, and it is a behaviour "
                       "change to review."] if col_nullable else [])
            proposals.append(Proposal(exact_cand, Variant([Run(exact_cand.sql, q.params)])))

        title = (f"NOT IN over nullable {where_col}" if col_nullable
                 else f"NOT IN (subquery) on {src.relname}: an anti-join plans better")
        finding = Finding(id=self.id, title=title, evidence="; ".join(evidence) + ".", relation=src.relname,
                          node=node_id)
        return Detected(finding, proposals)


def _parent_not(where: ast.Node, link: ast.SubLink) -> ast.Node:
    for term in conjuncts(where):
        if isinstance(term, ast.BoolExpr) and term.boolop == BoolExprType.NOT_EXPR and term.args[0] is link:
            return term
    raise ValueError("NOT IN is not a top-level conjunct")



__all__ = ["NotInNullable"]
