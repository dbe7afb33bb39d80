from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import SortByDir

from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, display_params,
    sort_columns,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    and_all, clone, compact_params, conjuncts, deparse, eq, make_colref, or_all, param_value, params,
    renumber_params, single_table,
)

MIN_OFFSET = 1000

_TABLES = {"transactions": {"columns": {"id": "bigint not null", "reference": "text not null",
                                        "merchant_id": "bigint not null",
                                        "inserted_at": "timestamp without time zone not null",
                                        "note": "text"},
                            "unique": [["id"]]}}


class OffsetToKeyset(Opportunity):
    """Fires on `ORDER BY ... LIMIT n OFFSET m` over one table with m >= 1,000 (a literal, or the
    value of its `$n`). The sort keys must be columns of that table, none of them nullable
    (NULLs need their own place in a cursor, which is not attempted).

    Candidate: the same query without OFFSET, with `(k1, k2) > ($a, $b)` (`<` for DESC; an OR
    chain when directions are mixed) where ($a, $b) are the sort keys of the last row of the
    previous page. When the ORDER BY is not total the primary key is appended as a tie-breaker:
    without one, OFFSET pages themselves can repeat or skip rows. Verification computes the
    cursor from the database (the m-th row), then compares the two pages row for row, in order;
    the reference is the original with the same tie-breaker.
    """

    id = "offset-to-keyset"
    title = "Deep OFFSET: keyset pagination reads only the page"
    detects = "A LIMIT/OFFSET page deep into an ordered list."
    why = (
        "OFFSET m makes PostgreSQL produce the first m rows in order and throw them away, so page "
        "1000 costs a thousand pages of work and later pages keep getting slower."
    )
    fix = (
        "Keyset (seek) pagination: remember the sort keys of the last row sent, and ask for the rows "
        "after it (`where: t.id > ^last_id`, or a row comparison for several keys), with an index on "
        "the sort keys."
    )
    examples = [
        Example(sql='SELECT t0."id", t0."reference" FROM "transactions" AS t0 ORDER BY t0."id" LIMIT 100 OFFSET $1',
                params=[250000], fires=True, tables=_TABLES,
                expect=["WHERE t0.id > $1 ORDER BY t0.id LIMIT 100"]),
        Example(sql='SELECT t0."id" FROM "transactions" AS t0 WHERE (t0."merchant_id" = $1) '
                    'ORDER BY t0."inserted_at" DESC LIMIT 50 OFFSET 5000',
                params=[12], fires=True, tables=_TABLES,
                expect=["(t0.inserted_at, t0.id) < ($2, $3)", "ORDER BY t0.inserted_at DESC, t0.id DESC"],
                note="not total: id is appended as the tie-breaker"),
        Example(sql="SELECT t.id FROM transactions t ORDER BY t.id LIMIT 100 OFFSET 200", fires=False,
                tables=_TABLES, note="a shallow offset"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        stmt = q.stmt
        if stmt.limitOffset is None or not stmt.sortClause or stmt.distinctClause or stmt.groupClause:
            return []
        offset = param_value(stmt.limitOffset, q.params)
        known = isinstance(offset, int)
        if known and offset < MIN_OFFSET:
            return []
        if not known and q.params is not None:
            return []
        src = single_table(stmt)
        keys = sort_columns(stmt)
        if src is None or keys is None or any(a not in (None, src.alias) for a, _ in keys):
            return []
        table = q.tables.get(src.relname or "")
        shown = f"{offset:,}" if known else "a deep"
        finding = Finding(id=self.id, title=f"OFFSET {shown} on {src.relname}: keyset pagination reads only the page",
                          evidence=(f"OFFSET {shown} makes PostgreSQL read, sort and discard {shown} rows of "
                                    f"{src.relname} before it returns the page"
                                    + self._plan_evidence(q) + "."),
                          relation=src.relname)
        if table is None:
            finding.notes.append(f"{src.relname} is not in the catalog; no rewrite")
            return [Detected(finding, [])]
        nullable = [c for _, c in keys if not table.not_null(c)]
        if nullable:
            finding.notes.append(f"not rewritten: {', '.join(nullable)} can be NULL, and a keyset cursor over "
                                 "NULLs needs an explicit place for them (e.g. NULLS LAST plus a coalesce)")
            return [Detected(finding, [])]
        directions = [s.sortby_dir == SortByDir.SORTBY_DESC for s in stmt.sortClause]
        if any(s.sortby_nulls for s in stmt.sortClause):
            finding.notes.append("not rewritten: the ORDER BY has NULLS FIRST/LAST")
            return [Detected(finding, [])]
        key_cols = [c for _, c in keys]
        tiebreak: list[str] = []
        if not table.is_unique(key_cols):
            if not table.primary_key or not all(table.not_null(c) for c in table.primary_key):
                finding.notes.append("not rewritten: the ORDER BY is not total and the table has no primary key "
                                     "to break ties with")
                return [Detected(finding, [])]
            tiebreak = [c for c in table.primary_key if c not in key_cols]
        return [Detected(finding, [self._proposal(q, src.alias, key_cols, directions, tiebreak, offset)])]

    def _plan_evidence(self, q: QueryContext) -> str:
        if q.plan is None or not q.plan.analyzed:
            return ""
        limit = next((n for n in q.plan.nodes if n.node_type == "Limit"), None)
        if limit is None or not limit.children:
            return ""
        child = q.plan.nodes[limit.children[0]]
        return (f": the Limit's input produced {child.actual_rows_total or 0:,.0f} rows to return "
                f"{limit.actual_rows_total or 0:,.0f}")

    def _proposal(self, q, alias, key_cols, directions, tiebreak, offset) -> Proposal:
        desc_last = directions[-1]
        all_cols = key_cols + tiebreak
        all_desc = directions + [desc_last] * len(tiebreak)

        # The reference: the original with the same tie-breaker, so "the same page" is well defined.
        reference = clone(q.stmt)
        reference.sortClause = tuple(reference.sortClause) + tuple(
            ast.SortBy(node=make_colref(alias, c), sortby_dir=2 if desc_last else 1, sortby_nulls=0)
            for c in tiebreak)
        ref_sql = deparse(reference)

        page = clone(reference)
        offset_node = clone(page.limitOffset)
        page.limitOffset = None
        kept = params(page)  # the offset's $n, if it was one, is gone
        mapping = {old: new for new, old in enumerate(kept, 1)}
        renumber_params(page, mapping)
        first = len(kept) + 1
        cursor = [ast.ParamRef(number=first + i) for i in range(len(all_cols))]
        page.whereClause = and_all(conjuncts(page.whereClause) + [_seek(alias, all_cols, all_desc, cursor)])
        sql = deparse(page)
        base_values = [q.params[old - 1] for old in kept] if q.params is not None else None

        # The cursor: the sort keys of the row just before the page.
        probe = clone(reference)
        probe.targetList = tuple(ast.ResTarget(val=make_colref(alias, c)) for c in all_cols)
        probe.limitCount = ast.A_Const(isnull=False, val=ast.Integer(ival=1))
        probe.limitOption = 1
        # `OFFSET m - 1` of the same order: the m-th row is the last one the previous page showed.
        probe.limitOffset = ast.A_Const(isnull=False, val=ast.Integer(ival=max(offset - 1, 0))) \
            if isinstance(offset, int) else offset_node
        probe_values = compact_params(probe, q.params)
        probe_sql = deparse(probe)

        def setup(cur: Any) -> list[Run]:
            cur.execute(probe_sql, probe_values or None)
            row = cur.fetchone()
            values = list(row) if row else [None] * len(all_cols)
            return [Run(sql, (base_values or []) + values)]

        names = {first + i: f"last_{c}" for i, c in enumerate(all_cols)}
        cand = Candidate(
            label="keyset pagination", sql=sql,
            params=display_params(base_values) + [f"<{c} of the last row of the previous page>" for c in all_cols],
            ecto=render(page, q.tables, param_names=names),
            semantics=("the rows after the previous page's last row, in the same total order, are exactly the "
                       "rows OFFSET skips to" + (f"; {', '.join(tiebreak)} breaks ties in both versions"
                                                 if tiebreak else "")),
            compare="ordered",
            notes=["The client passes the last row's keys instead of a page number; the first page has no "
                   "cursor condition. An index on (" + ", ".join(all_cols) + ") lets each page start where it "
                   "should."] + ([f"Your ORDER BY is not total: pages with OFFSET can repeat or skip rows among "
                                  f"equal keys; the tie-breaker ({', '.join(tiebreak)}) fixes that too."]
                                 if tiebreak else []))
        return Proposal(cand, Variant([Run(sql, None)], setup=setup),
                        reference=Variant([Run(ref_sql, q.params)]) if tiebreak else None)


def _seek(alias: str, cols: list[str], desc: list[bool], cursor: list[ast.ParamRef]) -> ast.Node:
    def cmp(col: str, d: bool, param: ast.Node) -> ast.A_Expr:
        return ast.A_Expr(kind=0, name=(ast.String(sval="<" if d else ">"),), lexpr=make_colref(alias, col),
                          rexpr=param)

    if len(cols) == 1:
        return cmp(cols[0], desc[0], cursor[0])
    if all(d == desc[0] for d in desc):
        return ast.A_Expr(kind=0, name=(ast.String(sval="<" if desc[0] else ">"),),
                          lexpr=ast.RowExpr(args=tuple(make_colref(alias, c) for c in cols), row_format=2),
                          rexpr=ast.RowExpr(args=tuple(cursor), row_format=2))
    branches = []
    for i, (col, d) in enumerate(zip(cols, desc)):
        equal = [eq(make_colref(alias, c), clone(p)) for c, p in zip(cols[:i], cursor[:i])]
        branches.append(and_all(equal + [cmp(col, d, clone(cursor[i]))]))
    return or_all(branches)
