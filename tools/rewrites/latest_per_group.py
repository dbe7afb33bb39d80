from __future__ import annotations

from pglast import ast
from pglast.enums import SortByDir

from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, display_params,
    sort_columns,
)
from tools.rewrites.ecto import render
from tools.rewrites.sql import (
    and_all, clone, colref, conjuncts, deparse, eq, make_colref, param_value, params, renumber_params,
    parse_expr, single_table, walk,
)

MAX_LIMIT = 10
SAMPLE = 50

_TABLES = {
    "conversations": {"columns": {"id": "bigint not null", "subject": "text"}, "unique": [["id"]]},
    "messages": {"columns": {"id": "bigint not null", "conversation_id": "bigint not null", "body": "text",
                             "inserted_at": "timestamp without time zone not null"},
                 "unique": [["id"]], "fks": {"conversation_id": "conversations.id"}},
}


class LatestPerGroup(Opportunity):
    """Fires on the query an N+1 runs per group: one table, a `col = $n` condition selecting the
    group, an ORDER BY of that table's columns and a LIMIT of at most 10 (`where: m.conversation_id
    == ^id, order_by: [desc: m.inserted_at], limit: 1` inside `Enum.map`).

    Candidates, each one query for all the groups (`$k` is the array of group ids):
    - a LATERAL join from the group's table (the column's foreign key target) running the same
      query per group inside PostgreSQL (Ecto `inner_lateral_join` over `subquery/1` with
      `parent_as/1`);
    - `row_number() OVER (PARTITION BY col ORDER BY ...)` filtered to the first n (Ecto `over/2`);
    - `DISTINCT ON (col)` when the limit is 1 (Ecto `distinct: m.col`).

    Verified against the N+1 itself: the single query runs once per group id - the ids given
    (`group_values`), else up to 50 sampled from the table - and the union of those results must
    equal the rewrite's rows. When the ORDER BY is not total the primary key is appended as a
    tie-breaker on both sides: otherwise "the latest" is not one row. The speedup compares
    planning plus execution of the N statements with the one, and the wall time from this
    client, which includes the N round trips an app pays too.
    """

    id = "latest-per-group"
    title = "N queries for the latest row of each group"
    detects = "A `WHERE group_id = $1 ORDER BY ... LIMIT n` query run once per group (an N+1)."
    why = (
        "Run in a loop, each query pays a round trip, parsing and planning, and its own index descent. "
        "One query can return the top rows of every group: a LATERAL join, a window function or "
        "DISTINCT ON."
    )
    fix = (
        "One query for the whole list: `inner_lateral_join: m in subquery(latest), on: true` with "
        "`parent_as(:conversation)` inside, or `over(row_number(), partition_by: ..., order_by: ...)` "
        "in a subquery filtered on the row number."
    )
    examples = [
        Example(sql='SELECT m0."id", m0."body", m0."inserted_at" FROM "messages" AS m0 WHERE '
                    '(m0."conversation_id" = $1) ORDER BY m0."inserted_at" DESC LIMIT 1',
                params=[7], fires=True, tables=_TABLES,
                expect=["FROM conversations AS c1 CROSS JOIN LATERAL (SELECT m0.id, m0.body, m0.inserted_at "
                        "FROM messages AS m0 WHERE m0.conversation_id = c1.id ORDER BY m0.inserted_at DESC, "
                        "m0.id DESC LIMIT 1) AS s1 WHERE c1.id = ANY(CAST($1 AS bigint[]))"]),
        Example(sql="SELECT m.id FROM messages m WHERE m.conversation_id = $1 ORDER BY m.inserted_at DESC "
                    "LIMIT 500", params=[7], fires=False, tables=_TABLES, note="a page, not the top rows"),
        Example(sql="SELECT m.id FROM messages m WHERE m.conversation_id = $1", params=[7], fires=False,
                tables=_TABLES, note="no ORDER BY / LIMIT: a plain preload"),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        stmt = q.stmt
        src = single_table(stmt)
        limit = param_value(stmt.limitCount, q.params) if stmt.limitCount is not None else None
        if src is None or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT or stmt.limitOffset is not None \
                or stmt.distinctClause or stmt.groupClause or not stmt.sortClause:
            return []
        keys = sort_columns(stmt)
        if keys is None or any(a not in (None, src.alias) for a, _ in keys):
            return []
        group = None
        rest = []
        for term in conjuncts(stmt.whereClause):
            if group is None and isinstance(term, ast.A_Expr) and term.kind == 0 and term.name[-1].sval == "=":
                ref, other = colref(term.lexpr), term.rexpr
                if ref is None:
                    ref, other = colref(term.rexpr), term.lexpr
                if ref and ref[0] in (None, src.alias) and isinstance(other, ast.ParamRef):
                    group = (ref[1], other.number)
                    continue
            rest.append(term)
        if group is None:
            return []
        column, number = group
        if any(isinstance(n, ast.ParamRef) and n.number == number for t in rest for n in walk(t)):
            return []
        table = q.tables.get(src.relname or "")
        if table is None:
            return []
        finding = Finding(
            id=self.id, title=f"One query per {column}: the top {limit} {src.relname} rows of each group",
            evidence=(f"this query selects the {'latest row' if limit == 1 else f'first {limit} rows'} of one "
                      f"{column}; run once per group it costs N round trips, parses and plans"),
            relation=src.relname)
        tiebreak = [] if table.is_unique([c for _, c in keys]) else \
            [c for c in table.primary_key if c not in {k for _, k in keys}]
        if not table.is_unique([c for _, c in keys] + tiebreak):
            finding.notes.append("not rewritten: the ORDER BY is not total and there is no primary key to break ties")
            return [Detected(finding, [])]
        values = self._groups(q, src.relname, column, table)
        if values is None:
            finding.notes.append("no group ids: pass group_values to verify")
        return [Detected(finding, self._proposals(q, src, column, number, rest, limit, tiebreak, table, values))]

    def _groups(self, q: QueryContext, relname: str, column: str, table) -> list | None:
        """The ids the N+1 loops over: given, or a sample with rows (the app's list page)."""
        ids = list(q.group_values or [])
        if not ids and q.params is not None and q.fetch is not None:
            rows = q.fetch(f'SELECT DISTINCT g FROM (SELECT "{column}" AS g FROM "{relname}" '
                           f'WHERE "{column}" IS NOT NULL LIMIT 20000) s ORDER BY g LIMIT {SAMPLE}', None)
            ids = [r[0] for r in rows]
        return ids or None

    def _proposals(self, q, src, column, number, rest, limit, tiebreak, table, values) -> list[Proposal]:
        alias = src.alias
        desc_last = q.stmt.sortClause[-1].sortby_dir == SortByDir.SORTBY_DESC

        def with_tiebreak(stmt: ast.SelectStmt) -> ast.SelectStmt:
            stmt.sortClause = tuple(stmt.sortClause) + tuple(
                ast.SortBy(node=make_colref(alias, c), sortby_dir=2 if desc_last else 1, sortby_nulls=0)
                for c in tiebreak)
            return stmt

        per_group = with_tiebreak(clone(q.stmt))
        per_group_sql = deparse(per_group)
        reference = None
        if values is not None:
            runs = []
            for v in values:
                bound = list(q.params)
                bound[number - 1] = v
                runs.append(Run(per_group_sql, bound))
            reference = Variant(runs)
        # Params of the one query: the original's other params renumbered, then the array of ids.
        others = [n for n in params(q.stmt) if n != number]
        mapping = {old: new for new, old in enumerate(others, 1)}
        array_no = len(others) + 1
        base_values = [q.params[old - 1] for old in others] if q.params is not None else []
        bound = base_values + [list(values)] if values is not None else None
        col_type = table.column(column).type if table.column(column) else "bigint"
        array_param = parse_expr(f"${array_no}::{col_type}[]")
        any_ids = ast.A_Expr(kind=1, name=(ast.String(sval="="),), lexpr=make_colref(alias, column), rexpr=array_param)
        proposals = []
        names = {array_no: f"{column}s"}
        # -- LATERAL from the group's own table
        fk = table.fk_for(column)
        if fk is not None and fk.ref_table in q.tables and q.tables[fk.ref_table].is_unique(fk.ref_columns):
            parent_alias = fk.ref_table[0] + "1" if fk.ref_table[0] + "1" != alias else "g1"
            inner = with_tiebreak(clone(q.stmt))
            inner.whereClause = and_all([eq(make_colref(alias, column), make_colref(parent_alias, fk.ref_columns[0]))]
                                        + [clone(t) for t in rest])
            renumber_params(inner, mapping)
            lateral = ast.RangeSubselect(lateral=True, subquery=inner, alias=ast.Alias(aliasname="s1"))
            outer = ast.SelectStmt(
                targetList=(ast.ResTarget(val=ast.ColumnRef(fields=(ast.String(sval="s1"), ast.A_Star()))),),
                fromClause=(ast.JoinExpr(jointype=0, larg=ast.RangeVar(relname=fk.ref_table, inh=True,
                                                                        relpersistence="p",
                                                                        alias=ast.Alias(aliasname=parent_alias)),
                                         rarg=lateral, quals=None),),
                whereClause=ast.A_Expr(kind=1, name=(ast.String(sval="="),),
                                       lexpr=make_colref(parent_alias, fk.ref_columns[0]), rexpr=clone(array_param)),
                limitOption=0, op=0)
            sql = deparse(outer)
            proposals.append(self._proposal(
                "LATERAL join", sql, outer, q, bound, reference, names, {"s1": "latest"},
                f"for each {fk.ref_table} row in the list, the original query runs inside PostgreSQL; "
                f"{fk.ref_table}.{fk.ref_columns[0]} is unique, so each group comes once"))
        # -- row_number() window
        inner = with_tiebreak(clone(q.stmt))
        order = inner.sortClause
        inner.sortClause = None
        inner.limitCount = None
        inner.whereClause = and_all([any_ids] + [clone(t) for t in rest])
        renumber_params(inner, mapping)
        out_names = _unique_names(inner)
        inner.targetList = tuple(ast.ResTarget(name=n, val=t.val) for n, t in zip(out_names, inner.targetList)) + (
            ast.ResTarget(name="row_number", val=ast.FuncCall(
                funcname=(ast.String(sval="row_number"),),
                over=ast.WindowDef(partitionClause=(make_colref(alias, column),), orderClause=order,
                                   frameOptions=1058))),)
        window = ast.SelectStmt(
            targetList=tuple(ast.ResTarget(val=make_colref("s1", n)) for n in out_names),
            fromClause=(ast.RangeSubselect(lateral=False, subquery=inner, alias=ast.Alias(aliasname="s1")),),
            whereClause=ast.A_Expr(kind=0, name=(ast.String(sval="<="),), lexpr=make_colref("s1", "row_number"),
                                   rexpr=ast.A_Const(isnull=False, val=ast.Integer(ival=limit))),
            limitOption=0, op=0)
        proposals.append(self._proposal(
            "row_number() window", deparse(window), window, q, bound, reference, names, {"s1": "ranked"},
            f"rows numbered within each {column} in the query's order; the first {limit} of each are the rows the "
            "per-group LIMIT returns"))
        # -- DISTINCT ON
        if limit == 1:
            distinct = with_tiebreak(clone(q.stmt))
            distinct.limitCount = None
            distinct.whereClause = and_all([any_ids] + [clone(t) for t in rest])
            distinct.distinctClause = (make_colref(alias, column),)
            distinct.sortClause = (ast.SortBy(node=make_colref(alias, column), sortby_dir=0, sortby_nulls=0),) + \
                tuple(distinct.sortClause)
            renumber_params(distinct, mapping)
            proposals.append(self._proposal(
                "DISTINCT ON", deparse(distinct), distinct, q, bound, reference, names, {},
                f"DISTINCT ON keeps the first row of each {column} in the query's order"))
        return proposals

    def _proposal(self, label, sql, stmt, q, bound, reference, names, subquery_names, semantics) -> Proposal:
        cand = Candidate(label=label, sql=sql, params=display_params(bound) if bound is not None else [],
                         ecto=render(stmt, q.tables, param_names=names, subquery_names=subquery_names),
                         semantics=semantics, compare="unordered",
                         notes=["Call it once with the ids of the whole list, then group the rows by id in Elixir "
                                "(Enum.group_by/2 or Map.new/2)."])
        if reference is None:
            return Proposal(cand, Variant([Run(sql, None)]), reference=Variant([]))
        return Proposal(cand, Variant([Run(sql, bound)]), reference=reference)


def _unique_names(select: ast.SelectStmt) -> list[str]:
    names, seen = [], set()
    for i, target in enumerate(select.targetList):
        ref = colref(target.val)
        name = target.name or (ref[1] if ref else f"column{i + 1}")
        base, n = name, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        names.append(name)
    return names
