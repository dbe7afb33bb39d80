from __future__ import annotations

from pglast import ast
from pglast.enums import BoolExprType, SubLinkType

from tools.explain.insights.base import share, share_text
from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, compare_mode,
    display_params, is_hashed, subplans,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    and_all, bool_path, clone, colref, conjuncts, deparse, eq, exists, make_colref, one, qualifiers, replace,
    simple_subselect, sources, sublinks,
)

_TABLES = {
    "tickets": {"columns": {"id": "bigint not null", "priority": "text not null", "customer_id": "bigint"},
                "unique": [["id"]]},
    "comments": {"columns": {"id": "bigint not null", "ticket_id": "bigint not null", "author_id": "bigint"},
                 "unique": [["id"]]},
}
_PLAN = {"Plan": {
    "Node Type": "Seq Scan", "Relation Name": "tickets", "Alias": "t0", "Startup Cost": 0, "Total Cost": 9e7,
    "Plan Rows": 20000, "Plan Width": 8, "Actual Startup Time": 0.1, "Actual Total Time": 4000.0,
    "Actual Rows": 900, "Actual Loops": 1, "Filter": "((t0.priority = 'high'::text) OR (SubPlan 1))",
    "Plans": [{"Node Type": "Materialize", "Parent Relationship": "SubPlan", "Subplan Name": "SubPlan 1",
               "Startup Cost": 0, "Total Cost": 5000, "Plan Rows": 200000, "Plan Width": 8,
               "Actual Startup Time": 0.0, "Actual Total Time": 0.2, "Actual Rows": 90000, "Actual Loops": 19000,
               "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "comments",
                          "Alias": "sc0", "Startup Cost": 0, "Total Cost": 3000, "Plan Rows": 200000,
                          "Plan Width": 8, "Actual Startup Time": 0.01, "Actual Total Time": 20.0,
                          "Actual Rows": 200000, "Actual Loops": 1}]}]},
    "Planning Time": 0.2, "Execution Time": 4001.0}


class InSubquery(Opportunity):
    """Fires on `x IN (SELECT col FROM t ...)` in WHERE, reached through AND/OR only (no NOT),
    that the plan runs as a SubPlan - hashed or not - instead of a semi-join. PostgreSQL turns
    an IN into a semi-join only when it is a top-level AND condition and its subquery does not
    refer to the outer query; under OR, or correlated, it stays a subplan.

    Candidate: `EXISTS (SELECT 1 FROM t WHERE ... AND t.col = x)`. In WHERE, without a NOT
    above it, IN and EXISTS select the same rows: IN's NULL (no match, a NULL in the subquery)
    and EXISTS's false both reject the row, and OR treats NULL like false there. With an index
    on t.col each outer row costs one index probe instead of a re-scan or a hash of all of t;
    verification decides whether that is faster here.
    """

    id = "in-subquery"
    title = "IN (subquery) runs as a subplan, not a semi-join"
    detects = "`x IN (SELECT ...)` under an OR, or correlated with the outer query, planned as a SubPlan."
    why = (
        "A subquery PostgreSQL cannot pull up into a semi-join is evaluated per outer row: either "
        "hashed (the whole subquery read and kept in memory) or, when that does not fit in work_mem, "
        "re-scanned for every row."
    )
    fix = (
        "Write it as a correlated EXISTS, which can probe an index per row: in Ecto "
        "`or_where: exists(from c in Comment, where: c.ticket_id == parent_as(:ticket).id)`."
    )
    examples = [
        Example(
            sql='SELECT t0."id" FROM "tickets" AS t0 WHERE (t0."priority" = \'high\') OR (t0."id" IN '
                '(SELECT sc0."ticket_id" FROM "comments" AS sc0))',
            fires=True, tables=_TABLES, plan=_PLAN,
            expect=["OR EXISTS (SELECT 1 FROM comments AS sc0 WHERE sc0.ticket_id = t0.id)"]),
        Example(
            sql="SELECT t.id FROM tickets t WHERE t.id IN (SELECT c.ticket_id FROM comments c)",
            fires=False, tables=_TABLES, note="a top-level IN: PostgreSQL already plans a semi-join (no SubPlan)"),
        Example(
            sql="SELECT t.id FROM tickets t WHERE NOT (t.id IN (SELECT c.ticket_id FROM comments c))",
            fires=False, tables=_TABLES, plan=_PLAN, note="NOT IN is not-in-nullable's"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        found = []
        outer = {s.alias for s in sources(q.stmt)}
        for index, link in enumerate(sublinks(q.stmt)):
            if link.subLinkType != SubLinkType.ANY_SUBLINK or link.operName:
                continue
            path = bool_path(q.stmt.whereClause, link)
            if path is None or BoolExprType.NOT_EXPR in path:
                continue
            sub = link.subselect
            src = simple_subselect(sub)
            if src is None or src.alias in outer or len(sub.targetList or ()) != 1:
                continue
            ref = colref(sub.targetList[0].val)
            if ref is None or ref[0] not in (None, src.alias):
                continue
            correlated = bool(qualifiers(sub) & outer)
            under_or = BoolExprType.OR_EXPR in path
            if not (correlated or under_or):
                continue
            plan_node = None
            for sp in subplans(q.plan):
                if src.relname in {n.relation for n in [sp, *q.plan.descendants(sp)]}:
                    plan_node = sp
                    break
            if q.plan is not None and plan_node is None:
                continue  # the planner found a join after all
            found.append(self._rewrite(q, index, link, src, ref[1], plan_node, under_or))
        return found

    def _rewrite(self, q, index, link, src, column, sp, under_or) -> Detected:
        stmt = clone(q.stmt)
        target = sublinks(stmt)[index]
        inner = clone(target.subselect)
        inner.targetList = (one(),)
        inner.whereClause = and_all(conjuncts(inner.whereClause) + [eq(make_colref(src.alias, column),
                                                                        clone(target.testexpr))])
        replace(stmt, target, exists(inner))
        sql = deparse(stmt)
        why = "it sits under an OR" if under_or else "its subquery refers to the outer query"
        evidence = f"PostgreSQL cannot make this IN a semi-join because {why}"
        if sp is not None:
            fraction, basis = share(q.plan, sp, inclusive=True)
            how = f"hashed {sp.subplan_name} (all of {src.relname} read into memory)" if is_hashed(q.plan, sp) else \
                f"{sp.subplan_name}, run {sp.loops:,.0f} times"
            evidence += f": it runs as {how}, {share_text(fraction, basis)}"
        cand = Candidate(label="EXISTS", sql=sql, params=display_params(q.params), ecto=render(stmt, q.tables),
                         semantics=("in WHERE, with no NOT above it, IN and EXISTS keep the same rows: a row "
                                    "passes exactly when some subquery row equals x"),
                         compare=compare_mode(q))
        finding = Finding(id=self.id, title=f"IN (subquery on {src.relname}) runs as a subplan",
                          evidence=evidence + ".", relation=src.relname, node=sp.id if sp else None)
        return Detected(finding, [Proposal(cand, Variant([Run(sql, q.params)]))])

