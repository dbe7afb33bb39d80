from __future__ import annotations

from pglast import ast

from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, display_params,
    order_is_total,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    and_all, clone, colref, conjuncts, deparse, exists, one, qualifiers, sources,
)

MIN_FANOUT = 2.0

_TABLES = {
    "posts": {"columns": {"id": "bigint not null", "title": "text not null"}, "unique": [["id"]]},
    "comments": {"columns": {"id": "bigint not null", "post_id": "bigint not null", "flagged": "boolean not null"},
                 "unique": [["id"]], "fks": {"post_id": "posts.id"}},
    "tags": {"columns": {"id": "bigint not null", "name": "text not null"}, "unique": [["id"]]},
}


class DistinctFanout(Opportunity):
    """Fires on `SELECT DISTINCT` over inner joins when every selected column (and every ORDER
    BY key) belongs to one table whose selected columns include a NOT NULL unique key (`t.*`
    counts): the other tables only filter, and DISTINCT is there to remove the duplicates their
    join created. When the plan is analysed, the DISTINCT's input must have at least twice the
    rows of its output.

    Candidate: that table alone, the other tables moved into `EXISTS (SELECT 1 FROM ... WHERE
    <their join and WHERE conditions>)`, and no DISTINCT: a row of the table appears once in the
    original exactly when some combination of the others' rows matches it, and its rows are
    already distinct by the key.
    """

    id = "distinct-fanout"
    title = "DISTINCT removes the duplicates a join created"
    detects = "`SELECT DISTINCT p.*` over a join used only to filter (Ecto `distinct: true` after a `join`)."
    why = (
        "The join produces one row per match - a post with 40 flagged comments comes out 40 times - "
        "and DISTINCT then sorts or hashes all of them to throw the copies away."
    )
    fix = (
        "Ask the question the join stands for: `where: exists(from c in Comment, where: c.post_id == "
        "parent_as(:post).id and c.flagged)`, without distinct. PostgreSQL runs it as a semi-join, "
        "which stops at the first match."
    )
    examples = [
        Example(sql='SELECT DISTINCT p0."id", p0."title" FROM "posts" AS p0 INNER JOIN "comments" AS c1 '
                    'ON c1."post_id" = p0."id" WHERE (c1."flagged")',
                fires=True, tables=_TABLES,
                expect=["SELECT p0.id, p0.title FROM posts AS p0 WHERE EXISTS (SELECT 1 FROM comments AS c1 "
                        "WHERE c1.post_id = p0.id AND c1.flagged)"]),
        Example(sql="SELECT DISTINCT p.title FROM posts p JOIN comments c ON c.post_id = p.id", fires=False,
                tables=_TABLES, note="no unique key selected: DISTINCT also merges posts with the same title"),
        Example(sql="SELECT DISTINCT p.id, c.flagged FROM posts p JOIN comments c ON c.post_id = p.id",
                fires=False, tables=_TABLES, note="selects a column of the joined table"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        stmt = q.stmt
        if stmt.distinctClause != (None,) or stmt.groupClause or stmt.havingClause is not None:
            return []
        srcs = sources(stmt)
        if len(srcs) < 2 or any(s.relname is None or s.join_type not in ("from", "inner") for s in srcs):
            return []
        used = qualifiers(stmt.targetList) | qualifiers(tuple(s.node for s in stmt.sortClause or ()))
        if len(used) != 1:
            return []
        kept_alias = next(iter(used))
        kept = next(s for s in srcs if s.alias == kept_alias)
        table = q.tables.get(kept.relname or "")
        if table is None:
            return []
        cols = set()
        for target in stmt.targetList:
            ref = colref(target.val)
            if ref is None:
                if isinstance(target.val, ast.ColumnRef) and isinstance(target.val.fields[-1], ast.A_Star):
                    cols |= set(table.columns)
                    continue
                return []
            cols.add(ref[1])
        if not table.is_unique(cols):
            return []
        fanout = self._fanout(q)
        if fanout is not None and fanout < MIN_FANOUT:
            return []
        others = [s for s in srcs if s.alias != kept_alias]
        rewritten = clone(stmt)
        rewritten.distinctClause = None
        rewritten.fromClause = (clone(kept.node),)
        inner_terms = [clone(s.quals) for s in srcs if s.quals is not None]
        outer_terms = []
        for term in conjuncts(stmt.whereClause):
            (inner_terms if qualifiers(term) - {kept_alias} else outer_terms).append(clone(term))
        sub = ast.SelectStmt(targetList=(one(),), fromClause=tuple(clone(s.node) for s in others),
                             whereClause=and_all(inner_terms), limitOption=0, op=0)
        rewritten.whereClause = and_all(outer_terms + [exists(sub)])
        sql = deparse(rewritten)
        names = ", ".join(s.relname for s in others)
        evidence = f"the join with {names} only filters {kept.relname}, and DISTINCT removes the duplicates it made"
        if fanout is not None:
            evidence += f": the DISTINCT reads {fanout:.1f} rows for each row it returns"
        finding = Finding(id=self.id, title=f"DISTINCT undoes the fan-out of joining {names}",
                          evidence=evidence + ".", relation=kept.relname)
        cand = Candidate(label="EXISTS instead of join + DISTINCT", sql=sql, params=display_params(q.params),
                         ecto=render(rewritten, q.tables),
                         semantics=(f"each {kept.relname} row is kept once when some {names} row matches it; its "
                                    "selected key makes the rows distinct without DISTINCT"),
                         compare="ordered" if order_is_total(q) else "unordered")
        return [Detected(finding, [Proposal(cand, Variant([Run(sql, q.params)]))])]

    def _fanout(self, q: QueryContext) -> float | None:
        if q.plan is None or not q.plan.analyzed:
            return None
        for node in q.plan.nodes:
            if node.node_type in ("Unique", "HashAggregate", "GroupAggregate") and node.children:
                child = q.plan.nodes[node.children[0]]
                out = node.actual_rows_total or 0
                return (child.actual_rows_total or 0) / out if out else None
        return None
