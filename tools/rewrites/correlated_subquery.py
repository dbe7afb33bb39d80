from __future__ import annotations

from pglast import ast
from pglast.enums import SubLinkType

from tools.explain.insights.base import share, share_text
from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, compare_mode,
    display_params, subplans,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    and_all, clone, colref, conjuncts, deparse, eq, func_name, is_plain_aggregate, make_colref, qualifiers,
    replace, simple_subselect, sources, sublinks,
)

MIN_LOOPS = 100

_PLAN = {"Plan": {
    "Node Type": "Seq Scan", "Relation Name": "posts", "Alias": "p0", "Startup Cost": 0, "Total Cost": 90000,
    "Plan Rows": 5000, "Plan Width": 16, "Actual Startup Time": 0.02, "Actual Total Time": 900.0,
    "Actual Rows": 5000, "Actual Loops": 1,
    "Plans": [{"Node Type": "Aggregate", "Strategy": "Plain", "Parent Relationship": "SubPlan",
               "Subplan Name": "SubPlan 1", "Startup Cost": 17, "Total Cost": 17, "Plan Rows": 1, "Plan Width": 8,
               "Actual Startup Time": 0.17, "Actual Total Time": 0.17, "Actual Rows": 1, "Actual Loops": 5000,
               "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "comments",
                          "Alias": "sc0", "Startup Cost": 0, "Total Cost": 17, "Plan Rows": 10, "Plan Width": 0,
                          "Actual Startup Time": 0.01, "Actual Total Time": 0.16, "Actual Rows": 10,
                          "Actual Loops": 5000}]}]},
    "Planning Time": 0.2, "Execution Time": 905.0}
_TABLES = {"posts": {"columns": {"id": "bigint not null", "title": "text not null"}, "unique": [["id"]]},
           "comments": {"columns": {"id": "bigint not null", "post_id": "bigint not null", "flagged": "boolean"},
                        "unique": [["id"]], "fks": {"post_id": "posts.id"}}}


class CorrelatedSubquery(Opportunity):
    """Fires on a scalar subquery that aggregates one table, `(SELECT count(*) FROM t WHERE
    t.fk = outer.col AND ...)`, in the select list or WHERE, when the plan runs it as a SubPlan
    at least 100 times (without ANALYZE: whenever it is a SubPlan). The subquery's conditions
    must be equalities to outer columns plus conditions on its own table.

    Candidate: aggregate once, grouped by the correlated columns, and LEFT JOIN the result:
    `LEFT JOIN (SELECT fk, count(*) AS value FROM t WHERE ... GROUP BY fk) s ON s.fk = outer.col`,
    the subquery replaced by `coalesce(s.value, 0)` for count (a group with no rows is absent
    from the join, and count over no rows is 0) and by `s.value` for the other aggregates
    (NULL either way). Verified like every rewrite: it loses when the outer query keeps few
    rows of a big table, and is then rejected.
    """

    id = "correlated-subquery"
    title = "A correlated subquery runs once per row"
    detects = "A scalar subquery aggregating another table per outer row: a SubPlan with many loops."
    why = (
        "A correlated subquery is a nested loop written by hand: PostgreSQL runs it once for every "
        "row of the outer query, and cannot turn an aggregating one into a join. Thousands of loops "
        "of a small scan add up to most of the query."
    )
    fix = (
        "Aggregate once for all rows and join the result: a grouped subquery in a LEFT JOIN "
        "(in Ecto, `left_join: c in subquery(counts), on: c.post_id == p.id` and "
        "`coalesce(c.value, 0)` in the select)."
    )
    examples = [
        Example(
            sql='SELECT p0."id", p0."title", (SELECT count(*) FROM "comments" AS sc0 WHERE sc0."post_id" = p0."id") '
                'AS "comment_count" FROM "posts" AS p0',
            fires=True, tables=_TABLES, plan=_PLAN,
            expect=["LEFT JOIN (SELECT sc0.post_id, count(*) AS value FROM comments AS sc0 GROUP BY sc0.post_id)",
                    "COALESCE(s1.value, 0) AS comment_count"]),
        Example(
            sql="SELECT p.id FROM posts p WHERE 3 < (SELECT count(*) FROM comments c WHERE c.post_id = p.id "
                "AND c.flagged)",
            fires=True, tables=_TABLES, plan=_PLAN, expect=["WHERE c.flagged GROUP BY c.post_id", "3 < COALESCE"]),
        Example(
            sql="SELECT p.id, (SELECT c.id FROM comments c WHERE c.post_id = p.id LIMIT 1) FROM posts p",
            fires=False, tables=_TABLES, plan=_PLAN, note="not an aggregate: a join could repeat rows"),
        Example(
            sql="SELECT p.id, (SELECT count(*) FROM comments c WHERE c.post_id = p.id) FROM posts p",
            fires=False, tables=_TABLES, note="no plan showing it as a SubPlan with many loops"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        found = []
        outer_aliases = {s.alias for s in sources(q.stmt)}
        for index, link in enumerate(sublinks(q.stmt)):
            if link.subLinkType != SubLinkType.EXPR_SUBLINK:
                continue
            shape = _shape(link, outer_aliases)
            if shape is None:
                continue
            src, agg, keys, local = shape
            sub = self._subplan(q, src.relname)
            if sub is None:
                continue
            detected = self._rewrite(q, index, src, agg, keys, local, sub)
            if detected:
                found.append(detected)
        return found

    def _subplan(self, q: QueryContext, relname: str | None):
        for sp in subplans(q.plan):
            below = {n.relation for n in [sp, *q.plan.descendants(sp)]}
            if relname in below and (not sp.analyzed or sp.loops >= MIN_LOOPS):
                return sp
        return None

    def _rewrite(self, q, index, src, agg, keys, local, sub) -> Detected | None:
        stmt = clone(q.stmt)
        if len(stmt.fromClause or ()) != 1:
            return None  # a LEFT JOIN added to one item of a comma list could not see the others
        taken = {s.alias for s in sources(stmt)}
        alias = next(f"s{i}" for i in range(len(taken), len(taken) + 50) if f"s{i}" not in taken)
        key_names = [k for k, _ in keys]
        value = "value" if "value" not in key_names else "aggregate_value"
        derived = ast.SelectStmt(
            targetList=tuple([ast.ResTarget(val=make_colref(src.alias, k)) for k in key_names]
                             + [ast.ResTarget(name=value, val=clone(agg))]),
            fromClause=(clone(src.node),),
            whereClause=and_all([clone(t) for t in local]),
            groupClause=tuple(make_colref(src.alias, k) for k in key_names),
            limitOption=0, op=0)
        quals = and_all([eq(make_colref(alias, k), clone(outer)) for k, outer in keys])
        stmt.fromClause = (ast.JoinExpr(jointype=1, larg=stmt.fromClause[0],
                                        rarg=ast.RangeSubselect(lateral=False, subquery=derived,
                                                                alias=ast.Alias(aliasname=alias)),
                                        quals=quals),)
        target = sublinks(stmt)[index]
        result: ast.Node = make_colref(alias, value)
        if func_name(agg) == "count":
            result = ast.CoalesceExpr(args=(result, ast.A_Const(isnull=False, val=ast.Integer(ival=0))))
        replace(stmt, target, result)
        sql = deparse(stmt)
        fraction, basis = share(q.plan, sub, inclusive=True)
        loops = f"{sub.loops:,.0f} times" if sub.analyzed else "once per outer row"
        evidence = (f"{sub.subplan_name} (the subquery on {src.relname}) runs {loops}, "
                    f"{share_text(fraction, basis)}")
        name = f"{src.relname}_by_{key_names[0]}"
        cand = Candidate(
            label="grouped LEFT JOIN", sql=sql, params=display_params(q.params),
            ecto=render(stmt, q.tables, subquery_names={alias: name}),
            semantics=(f"{func_name(agg)} per {', '.join(key_names)} computed once; the LEFT JOIN keeps rows with "
                       "no match" + (", where coalesce gives the 0 count(*) gives over no rows"
                                     if func_name(agg) == "count" else ", where the aggregate is NULL as before")),
            compare=compare_mode(q))
        finding = Finding(id=self.id, title=f"Correlated subquery on {src.relname} runs {loops}",
                          evidence=evidence + ".", relation=src.relname, node=sub.id)
        return Detected(finding, [Proposal(cand, Variant([Run(sql, q.params)]))])


def _shape(link: ast.SubLink, outer_aliases: set[str]):
    """(source, aggregate, [(inner column, outer expression)], local conditions) or None."""
    sub = link.subselect
    src = simple_subselect(sub)
    if src is None or src.alias in outer_aliases or len(sub.targetList or ()) != 1:
        return None
    agg = sub.targetList[0].val
    if not is_plain_aggregate(agg) or qualifiers(agg) - {src.alias}:
        return None
    keys, local = [], []
    for term in conjuncts(sub.whereClause):
        refs = qualifiers(term)
        if not refs - {src.alias}:  # unqualified columns resolve to the subquery's own table first
            local.append(term)
            continue
        if isinstance(term, ast.A_Expr) and term.kind == 0 and term.name[-1].sval == "=":
            left, right = colref(term.lexpr), colref(term.rexpr)
            for inner, outer, outer_node in ((left, right, term.rexpr), (right, left, term.lexpr)):
                if inner and outer and inner[0] in (src.alias, None) and outer[0] in outer_aliases:
                    keys.append((inner[1], outer_node))
                    break
            else:
                return None
            continue
        return None
    if not keys:
        return None
    return src, agg, keys, local

