from __future__ import annotations

from pglast import ast

from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, display_params,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    clone, colref, deparse, func_name, is_plain_aggregate, one, qualifiers, sources, walk,
)

MIN_ROWS = 10_000
CAP = 1000

_TABLES = {
    "posts": {"columns": {"id": "bigint not null", "user_id": "bigint", "title": "text not null",
                          "published": "boolean not null", "inserted_at": "timestamp without time zone not null"},
              "unique": [["id"]]},
    "users": {"columns": {"id": "bigint not null", "name": "text"}, "unique": [["id"]]},
}
_PLAN = {"Plan": {"Node Type": "Aggregate", "Strategy": "Plain", "Startup Cost": 9000, "Total Cost": 9000,
                  "Plan Rows": 1, "Plan Width": 8, "Actual Startup Time": 80, "Actual Total Time": 80,
                  "Actual Rows": 1, "Actual Loops": 1,
                  "Plans": [{"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "posts",
                             "Alias": "sp0", "Startup Cost": 0, "Total Cost": 5000, "Plan Rows": 150000,
                             "Plan Width": 0, "Actual Startup Time": 0, "Actual Total Time": 40,
                             "Actual Rows": 150000, "Actual Loops": 1}]},
         "Planning Time": 0.1, "Execution Time": 80.5}


class CountTotal(Opportunity):
    """Fires on an ungrouped `count(...)` that is the whole select list, when the plan shows it
    counting at least 10,000 rows (estimated rows without ANALYZE): the total behind "page 3 of
    1,204".

    Exact candidate, when one exists: the counted subquery (Ecto's `subquery(q) |> select(count())`)
    without the work that cannot change the count - its ORDER BY, and LEFT JOINs to a unique
    key that nothing but the select list uses. Verified like every rewrite.

    Behaviour-change candidate: a capped count, `count(*)` over the first 1,001 matching rows.
    It returns the same number up to 1,000 and 1,001 beyond, for a UI that shows "1,000+"; that
    is a product decision, so it is shown, never proposed.
    """

    id = "count-total"
    title = "An exact COUNT(*) for a pagination total"
    detects = "A `count(*)` over a whole result set, run to show a total or a page count."
    why = (
        "PostgreSQL keeps no row counts (MVCC: each transaction may see a different number), so an "
        "exact count reads every matching row. Totals on list pages grow slower with the table, and "
        "often cost more than the page itself."
    )
    fix = (
        "Count only what changes the number (no ORDER BY, no joins that cannot filter); where the UI "
        "allows, cap the count ('1,000+'), use the planner's estimate, or drop the total and fetch "
        "limit + 1 rows to know whether a next page exists."
    )
    examples = [
        Example(
            sql='SELECT count(*) FROM (SELECT sp0."id" AS "id", sp0."title" AS "title", su1."name" AS "name" '
                'FROM "posts" AS sp0 LEFT OUTER JOIN "users" AS su1 ON su1."id" = sp0."user_id" '
                'WHERE (sp0."published") ORDER BY sp0."inserted_at" DESC) AS s0',
            fires=True, tables=_TABLES, plan=_PLAN,
            expect=["SELECT count(*) FROM (SELECT sp0.id AS id, sp0.title AS title FROM posts AS sp0 "
                    "WHERE sp0.published) AS s0"]),
        Example(sql='SELECT count(*) FROM "posts" AS p0 WHERE (p0."published")', fires=True, tables=_TABLES,
                plan=_PLAN, expect=["LIMIT 1001"], note="nothing exact to remove: only the capped count"),
        Example(sql="SELECT count(*) FROM posts p WHERE p.id = 3", fires=False, tables=_TABLES,
                plan={**_PLAN, "Plan": {**_PLAN["Plan"], "Plans": [{**_PLAN["Plan"]["Plans"][0],
                                                                    "Actual Rows": 1, "Plan Rows": 1}]}},
                note="a count over one row"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        stmt = q.stmt
        targets = stmt.targetList or ()
        if len(targets) != 1 or func_name(targets[0].val) != "count" or not is_plain_aggregate(targets[0].val):
            return []
        if stmt.groupClause or stmt.distinctClause or stmt.havingClause is not None or q.plan is None:
            return []
        agg = next((n for n in q.plan.nodes if n.node_type == "Aggregate"), None)
        if agg is None or not agg.children:
            return []
        child = q.plan.nodes[agg.children[0]]
        counted = child.actual_rows_total if child.analyzed else child.plan_rows_total
        if (counted or 0) < MIN_ROWS:
            return []
        finding = Finding(
            id=self.id, title=f"Exact count over {counted:,.0f} rows",
            evidence=(f"the count reads {counted:,.0f} rows to produce one number"
                      + (f" ({agg.inclusive_ms:,.0f} ms)" if agg.inclusive_ms is not None else "")
                      + "; it grows with the table"),
            relation=next((n.relation for n in q.plan.descendants(agg) if n.relation), None), node=agg.id)
        finding.notes.append("If the total only decides whether to show a 'next' link, drop the count: fetch "
                             "limit + 1 rows and show 'next' when the extra row comes back.")
        finding.notes.append("If an approximate figure is fine, read the planner's estimate (the top row count "
                             "of EXPLAIN without ANALYZE), which costs a planning pass, not a scan.")
        proposals = []
        exact = self._exact(q)
        if exact is not None:
            sql = deparse(exact)
            proposals.append(Proposal(Candidate(
                label="count without ORDER BY and unused joins", sql=sql, params=display_params(q.params),
                ecto=render(exact, q.tables, subquery_names={"s0": "counted"}),
                semantics=("neither the order of the rows nor a LEFT JOIN to a unique key that only adds "
                           "columns changes how many rows there are"),
                compare="ordered"), Variant([Run(sql, q.params)])))
        capped = self._capped(q)
        if capped is not None:
            sql = deparse(capped)
            proposals.append(Proposal(Candidate(
                label=f"capped count ({CAP:,}+)", sql=sql, params=display_params(q.params),
                ecto=render(capped, q.tables, subquery_names={"s0": "first_rows"}),
                semantics=f"the exact count up to {CAP:,}; {CAP + 1:,} means 'more than {CAP:,}'",
                changes_results=f"it returns {CAP + 1:,} whenever more than {CAP:,} rows match",
                compare="ordered"), Variant([Run(sql, q.params)])))
        return [Detected(finding, proposals)]

    def _counted(self, stmt: ast.SelectStmt) -> tuple[ast.SelectStmt, str] | None:
        """The query whose rows are counted: the subquery of `count(*) FROM (subquery) s0`, else None."""
        srcs = sources(stmt)
        if len(srcs) == 1 and isinstance(srcs[0].node, ast.RangeSubselect):
            return srcs[0].node.subquery, srcs[0].alias
        return None

    def _exact(self, q: QueryContext) -> ast.SelectStmt | None:
        stmt = clone(q.stmt)
        found = self._counted(stmt)
        if found is None:
            return None
        inner, alias = found
        if inner.limitCount is not None or inner.limitOffset is not None or inner.distinctClause \
                or inner.groupClause or inner.op != 0:
            return None
        changed = False
        if inner.sortClause:
            inner.sortClause = None
            changed = True
        used_outside = qualifiers(stmt.targetList)
        if not (used_outside - {alias}) and (func_name(stmt.targetList[0].val) == "count"):
            changed |= self._drop_unused_left_joins(q, inner, stmt)
        return stmt if changed else None

    def _drop_unused_left_joins(self, q: QueryContext, inner: ast.SelectStmt, outer: ast.SelectStmt) -> bool:
        arg = (outer.targetList[0].val.args or (None,))[0]
        counted_cols = {colref(arg)[1]} if colref(arg) else set()
        changed = False
        while len(inner.fromClause or ()) == 1 and isinstance(inner.fromClause[0], ast.JoinExpr):
            join = inner.fromClause[0]
            if int(join.jointype) != 1 or not isinstance(join.rarg, ast.RangeVar):
                break
            right = join.rarg
            alias = right.alias.aliasname if right.alias else right.relname
            table = q.tables.get(right.relname)
            inner_cols = {colref(t)[1] for t in walk(join.quals)
                          if colref(t) and colref(t)[0] == alias}
            if table is None or not table.is_unique(inner_cols):
                break
            elsewhere = qualifiers((inner.whereClause, inner.havingClause, join.larg))
            if alias in elsewhere:
                break
            kept = [t for t in inner.targetList if alias not in qualifiers(t)]
            dropped = [t for t in inner.targetList if alias in qualifiers(t)]
            if any((t.name or (colref(t.val) or (None, ""))[1]) in counted_cols for t in dropped):
                break
            inner.targetList = tuple(kept) or (one(),)
            inner.fromClause = (join.larg,)
            changed = True
        return changed

    def _capped(self, q: QueryContext) -> ast.SelectStmt | None:
        stmt = clone(q.stmt)
        found = self._counted(stmt)
        if found is not None:
            inner, alias = found
            if inner.limitCount is not None:
                return None
            inner.sortClause = None
        else:
            if stmt.limitCount is not None or stmt.sortClause:
                return None
            inner = clone(stmt)
            inner.targetList = (one(),)
            arg = (stmt.targetList[0].val.args or (None,))[0]
            if arg is not None:  # count(x) counts non-NULL x: keep that condition
                from tools.rewrites.sql import and_all, conjuncts, null_test

                inner.whereClause = and_all(conjuncts(inner.whereClause) + [null_test(clone(arg), False)])
            alias = "s0"
            stmt = ast.SelectStmt(targetList=(ast.ResTarget(val=ast.FuncCall(funcname=(ast.String(sval="count"),),
                                                                               agg_star=True)),),
                                  fromClause=(ast.RangeSubselect(lateral=False, subquery=inner,
                                                                 alias=ast.Alias(aliasname=alias)),),
                                  limitOption=0, op=0)
        inner.limitCount = ast.A_Const(isnull=False, val=ast.Integer(ival=CAP + 1))
        inner.limitOption = 1  # LIMIT_OPTION_COUNT: without it the deparser drops the keyword
        return stmt
