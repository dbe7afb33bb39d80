"""Turning one aggregation into a materialized view and the query the app runs over it.

A view cannot take parameters, so conditions that vary per call are lifted out of it:
`col = $n` on a plain column becomes a GROUP BY key of the view (one row per value) and a
WHERE on that column in the app's query; a range on a column the query already groups by
day/week/month (`date_trunc('day', col)`) moves to that bucket column. ORDER BY and LIMIT stay
in the app's query. What cannot be lifted makes the query unsuitable, and the design says why.

Every GROUP BY expression becomes a named column of the view, and together they are its
unique index: GROUP BY makes them unique, and REFRESH ... CONCURRENTLY needs exactly such an
index (plain columns, no WHERE) to tell changed rows from unchanged ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import A_Expr_Kind

from tools.rewrites.sql import (
    and_all, clone, colref, conjuncts, deparse, func_name, is_plain_aggregate, make_colref, sources, walk,
)

BUCKETS = {"date_trunc"}


@dataclass
class Design:
    view: str
    view_sql: str  # the SELECT the view stores
    columns: list[str]  # its column names, in order
    keys: list[str]  # the unique index columns
    app_select: ast.SelectStmt  # the app's query over the view
    app_sql: str
    lifted: list[str] = field(default_factory=list)  # conditions moved out of the view, as written
    notes: list[str] = field(default_factory=list)
    exact: bool = True  # the app's query returns the original's rows for every param value


class NotMaterializable(Exception):
    """The aggregation cannot become a view: the message says why."""


def design(select: ast.SelectStmt, *, view_name: str | None = None) -> Design:
    if select.op != 0 or select.withClause is not None or select.lockingClause:
        raise NotMaterializable("set operations, CTEs and locking queries are not handled")
    srcs = sources(select)
    if not srcs or any(s.relname is None for s in srcs):
        raise NotMaterializable("it reads a subquery or a function; materialize the inner query instead")
    has_agg = any(is_plain_aggregate(n) for t in select.targetList for n in walk(t.val))
    if not select.groupClause and not has_agg:
        raise NotMaterializable("it does not aggregate: a view would store as many rows as the tables")
    if select.havingClause is not None and _has_param(select.havingClause):
        raise NotMaterializable("its HAVING depends on a parameter")
    if select.distinctClause:
        raise NotMaterializable("DISTINCT over an aggregation is not handled")
    # `GROUP BY 1, 2` names select-list positions: work with the expressions themselves.
    group = [_positional(g, select) for g in select.groupClause or ()]
    # Output names: the query's own aliases, else names derived from the expression.
    names: list[str] = []
    taken: set[str] = set()

    def claim(name: str) -> str:
        base, i = name, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        return name

    targets = []
    for t in select.targetList:
        name = claim(t.name or _name(t.val))
        names.append(name)
        targets.append((name, t.val))
    # Every group key must be a column, even when the query does not select it.
    key_names: list[str] = []
    for g in group:
        found = next((n for n, v in targets if deparse(v) == deparse(g)), None)
        if found is None:
            found = claim(_name(g))
            targets.append((found, g))
        key_names.append(found)
    lifted, kept_terms, app_filters = [], [], []
    range_lifted = False
    for term in conjuncts(select.whereClause):
        if not _has_param(term):
            kept_terms.append(term)
            continue
        lift = _lift(term, targets, group)
        if lift is None:
            raise NotMaterializable(f"`{deparse(term)}` changes with each call and is neither an equality on a "
                                    "column nor a range on a grouped day/week/month")
        kind, column_node, filter_node = lift
        if kind == "key":
            name = claim((colref(column_node) or (None, "key"))[1])
            targets.append((name, column_node))
            group.append(clone(column_node))
            key_names.append(name)
            app_filters.append(_retarget(filter_node, column_node, name))
        else:  # a range moved to the bucket column that is already a key
            app_filters.append(filter_node)
            range_lifted = True
        lifted.append(deparse(term))
    view = view_name or _view_name(srcs[0].relname, key_names)
    view_select = ast.SelectStmt(
        targetList=tuple(ast.ResTarget(name=n, val=clone(v)) for n, v in targets),
        fromClause=clone(select.fromClause), whereClause=and_all([clone(t) for t in kept_terms]),
        groupClause=tuple(clone(g) for g in group) or None, havingClause=clone(select.havingClause),
        limitOption=0, op=0)
    if _has_param(view_select):
        raise NotMaterializable("a parameter is used outside WHERE (in the select list or GROUP BY): "
                                "the view cannot hold it")
    if not key_names:
        # One row, no key: a constant column gives REFRESH CONCURRENTLY its unique index.
        view_select.targetList = view_select.targetList + (
            ast.ResTarget(name="singleton", val=ast.A_Const(isnull=False, val=ast.Boolean(boolval=True))),)
        key_names = ["singleton"]
    app = _app_query(select, view, names, targets, app_filters)
    d = Design(view=view, view_sql=deparse(view_select), columns=[n for n, _ in targets] +
               (["singleton"] if key_names == ["singleton"] else []), keys=key_names, app_select=app,
               app_sql=deparse(app), lifted=lifted)
    if range_lifted:
        d.exact = False
        d.notes.append("a range condition moved to the grouped bucket: the rows are the same when the bound is a "
                       "bucket boundary (midnight for days), as dashboards usually pass; a bound inside a bucket "
                       "now includes or excludes the whole bucket")
    if not select.groupClause and key_names != ["singleton"]:
        d.notes.append("the original always returns one row; over the view a value with no rows returns none: "
                       "treat nil as the empty aggregate (e.g. `Repo.one(q) || 0`)")
    return d


def _positional(node, select: ast.SelectStmt):
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer) and \
            0 < node.val.ival <= len(select.targetList):
        return select.targetList[node.val.ival - 1].val
    return node


def _has_param(node) -> bool:
    return any(isinstance(n, ast.ParamRef) for n in walk(node))


def _lift(term, targets, group):
    """("key", column, filter) for `col = $n`; ("range", bucket, filter) for a range on a grouped bucket."""
    if not isinstance(term, ast.A_Expr):
        return None
    op = term.name[-1].sval if term.name else ""
    left, right = term.lexpr, term.rexpr
    if term.kind == A_Expr_Kind.AEXPR_OP and op == "=":
        for col, other in ((left, right), (right, left)):
            if colref(col) and not _refs_columns(other):
                return "key", col, clone(term)
    if term.kind == A_Expr_Kind.AEXPR_OP and op in ("<", "<=", ">", ">="):
        for col, other, flip in ((left, right, False), (right, left, True)):
            ref = colref(col)
            if ref is None or _refs_columns(other):
                continue
            for g in group:
                if func_name(g) in BUCKETS and any(colref(a) == ref for a in (g.args or ())):
                    name = next(n for n, v in targets if deparse(v) == deparse(g))
                    new = clone(term)
                    if flip:
                        new.rexpr = make_colref("v", name)
                    else:
                        new.lexpr = make_colref("v", name)
                    return "range", g, new
    return None


def _refs_columns(node) -> bool:
    return any(isinstance(n, ast.ColumnRef) for n in walk(node))


def _retarget(term, column_node, name):
    new = clone(term)
    text = deparse(column_node)
    if deparse(new.lexpr) == text:
        new.lexpr = make_colref("v", name)
    else:
        new.rexpr = make_colref("v", name)
    return new


def _app_query(select, view, names, targets, filters) -> ast.SelectStmt:
    by_expr = {deparse(v): n for n, v in targets}

    def to_view(node):
        """An ORDER BY expression of the original, as a column of the view."""
        text = deparse(node)
        if text in by_expr:
            return make_colref("v", by_expr[text])
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):  # ORDER BY 2
            return make_colref("v", names[node.val.ival - 1])
        raise KeyError(text)

    sort = []
    for s in select.sortClause or ():
        try:
            sort.append(ast.SortBy(node=to_view(s.node), sortby_dir=s.sortby_dir, sortby_nulls=s.sortby_nulls))
        except KeyError as exc:
            raise NotMaterializable(f"it orders by {exc.args[0]}, which is not one of its columns") from None
    return ast.SelectStmt(
        targetList=tuple(ast.ResTarget(val=make_colref("v", n)) for n in names),
        fromClause=(ast.RangeVar(relname=view, inh=True, relpersistence="p", alias=ast.Alias(aliasname="v")),),
        whereClause=and_all(filters), sortClause=tuple(sort) or None, limitCount=clone(select.limitCount),
        limitOffset=clone(select.limitOffset), limitOption=select.limitOption, op=0)


def _name(node) -> str:
    ref = colref(node)
    if ref:
        return ref[1]
    fn = func_name(node)
    if fn == "date_trunc" and node.args and isinstance(node.args[0], ast.A_Const):
        return str(getattr(node.args[0].val, "sval", "bucket"))
    if fn == "count" and (node.agg_star or not node.args):
        return "count"
    if fn and node.args and colref(node.args[0]):
        return f"{fn}_{colref(node.args[0])[1]}"
    if fn:
        return fn
    if isinstance(node, ast.TypeCast) and colref(node.arg):
        return f"{colref(node.arg)[1]}_{node.typeName.names[-1].sval}"
    return "value"


def _view_name(table: str, keys: list[str]) -> str:
    suffix = "_by_" + "_".join(keys) if keys else "_totals"
    return re.sub(r"[^a-z0-9_]", "_", f"{table}{suffix}".lower())[:63]

