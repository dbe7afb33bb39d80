"""The parsed query: walking, splitting and rebuilding pglast trees.

Rewrites are made on PostgreSQL's own parse tree (pglast) and printed back with its deparser,
never by editing SQL text: a regular expression cannot tell a column from a string literal,
nor an outer reference from an inner one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator

from pglast import ast, parse_sql
from pglast.enums import BoolExprType, SubLinkType
from pglast.parser import ParseError
from pglast.stream import RawStream

from tools.errors import InputError

AGGREGATES = {"count", "sum", "min", "max", "avg", "bool_and", "bool_or", "every"}


def parse_select(sql: str) -> ast.SelectStmt:
    try:
        stmts = parse_sql(sql)
    except ParseError as exc:
        raise InputError(f"cannot parse the SQL: {exc}") from None
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        raise InputError("rewrites are suggested for one SELECT statement")
    return stmts[0].stmt


def parse_expr(sql: str) -> ast.Node:
    """One scalar expression, e.g. `EXISTS (SELECT 1 FROM t)`."""
    return parse_select(f"SELECT {sql}").targetList[0].val


def deparse(node: ast.Node) -> str:
    return RawStream()(node)


def clone(node: Any) -> Any:
    return copy.deepcopy(node)


# ---- walking ------------------------------------------------------------------------------------

def children(node: ast.Node) -> Iterator[tuple[str, int | None, Any]]:
    """(attribute, index in a tuple or None, child) for every child node."""
    for attr in node:
        value = getattr(node, attr)
        if isinstance(value, ast.Node):
            yield attr, None, value
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, ast.Node):
                    yield attr, i, item


def walk(node: Any, *, into_subqueries: bool = True) -> Iterator[ast.Node]:
    """Pre-order. Without `into_subqueries`, SubLinks and RangeSubselects are yielded but not
    entered: what is left is the query's own level."""
    if not isinstance(node, ast.Node):
        if isinstance(node, tuple):
            for item in node:
                yield from walk(item, into_subqueries=into_subqueries)
        return
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not into_subqueries and current is not node and isinstance(current, (ast.SubLink, ast.RangeSubselect)):
            continue
        stack.extend(reversed([child for _, _, child in children(current)]))


def replace(root: ast.Node, old: ast.Node, new: ast.Node) -> bool:
    """Put `new` where `old` (by identity) is in the tree under `root`."""
    for node in walk(root):
        for attr, index, child in children(node):
            if child is old:
                if index is None:
                    setattr(node, attr, new)
                else:
                    items = list(getattr(node, attr))
                    items[index] = new
                    setattr(node, attr, tuple(items))
                return True
    return False


def parent_chain(root: ast.Node, target: ast.Node) -> list[ast.Node] | None:
    """The nodes from `root` down to `target`'s parent, or None when it is not under root."""
    path: list[ast.Node] = []

    def visit(node: ast.Node) -> bool:
        if node is target:
            return True
        path.append(node)
        for _, _, child in children(node):
            if visit(child):
                return True
        path.pop()
        return False

    return path if visit(root) else None


# ---- expressions --------------------------------------------------------------------------------

def conjuncts(expr: ast.Node | None) -> list[ast.Node]:
    if expr is None:
        return []
    if isinstance(expr, ast.BoolExpr) and expr.boolop == BoolExprType.AND_EXPR:
        return [c for arg in expr.args for c in conjuncts(arg)]
    return [expr]


def and_all(terms: list[ast.Node]) -> ast.Node | None:
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    return ast.BoolExpr(boolop=BoolExprType.AND_EXPR, args=tuple(terms))


def colref(node: Any) -> tuple[str | None, str] | None:
    """(qualifier, column) of a plain column reference; None for anything else (incl. `t.*`)."""
    if not isinstance(node, ast.ColumnRef):
        return None
    names = [f.sval for f in node.fields if isinstance(f, ast.String)]
    if len(names) != len(node.fields) or not names:
        return None
    if len(names) == 1:
        return None, names[0]
    return names[-2], names[-1]


def make_colref(qualifier: str | None, column: str) -> ast.ColumnRef:
    fields = ([ast.String(sval=qualifier)] if qualifier else []) + [ast.String(sval=column)]
    return ast.ColumnRef(fields=tuple(fields))


def func_name(node: Any) -> str | None:
    if isinstance(node, ast.FuncCall):
        return node.funcname[-1].sval.lower()
    return None


def is_plain_aggregate(node: Any) -> bool:
    return (isinstance(node, ast.FuncCall) and func_name(node) in AGGREGATES and node.over is None
            and not node.agg_order and node.agg_filter is None)


def qualifiers(node: Any) -> set[str]:
    """Aliases referenced by column references anywhere under `node` (subqueries included)."""
    found = set()
    for n in walk(node):
        ref = colref(n)
        if ref and ref[0]:
            found.add(ref[0])
        elif isinstance(n, ast.ColumnRef) and len(n.fields) == 2 and isinstance(n.fields[0], ast.String):
            found.add(n.fields[0].sval)  # t.*
    return found


def params(node: Any) -> list[int]:
    return sorted({n.number for n in walk(node) if isinstance(n, ast.ParamRef)})


def renumber_params(node: ast.Node, mapping: dict[int, int]) -> None:
    for n in walk(node):
        if isinstance(n, ast.ParamRef) and n.number in mapping:
            n.number = mapping[n.number]


def param_value(node: Any, values: list | None) -> Any:
    """The value a literal or `$n` stands for (None when unknown)."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ParamRef) and values is not None and 0 < node.number <= len(values):
        return values[node.number - 1]
    if isinstance(node, ast.A_Const) and not node.isnull:
        val = node.val
        for attr in ("ival", "fval", "sval", "boolval"):
            if hasattr(val, attr):
                raw = getattr(val, attr)
                return float(raw) if attr == "fval" else raw
    return None


def has_sublink_of(node: Any, kind: SubLinkType) -> bool:
    return any(isinstance(n, ast.SubLink) and n.subLinkType == kind for n in walk(node))


# ---- FROM ---------------------------------------------------------------------------------------

@dataclass
class Source:
    alias: str  # the name columns are qualified with (the alias, else the table name)
    relname: str | None  # None for subqueries and functions
    node: ast.Node
    join_type: str = "from"  # "from", "inner", "left", "right", "full"
    quals: ast.Node | None = None


def sources(select: ast.SelectStmt) -> list[Source]:
    """The query's FROM items in order, joins flattened (left-deep), subqueries not entered."""
    out: list[Source] = []

    def visit(item: ast.Node, join_type: str, quals: ast.Node | None) -> None:
        if isinstance(item, ast.JoinExpr):
            visit(item.larg, join_type, quals)
            kind = {0: "inner", 1: "left", 2: "full", 3: "right"}.get(int(item.jointype), "inner")
            visit(item.rarg, kind, item.quals)
        elif isinstance(item, ast.RangeVar):
            alias = item.alias.aliasname if item.alias else item.relname
            out.append(Source(alias, item.relname, item, join_type, quals))
        elif isinstance(item, (ast.RangeSubselect, ast.RangeFunction)):
            alias = item.alias.aliasname if item.alias else "?"
            out.append(Source(alias, None, item, join_type, quals))

    for item in select.fromClause or ():
        visit(item, "from", None)
    return out


def single_table(select: ast.SelectStmt) -> Source | None:
    """The one table of a query that reads one table and nothing else."""
    found = sources(select)
    if len(found) == 1 and found[0].relname:
        return found[0]
    return None


def relnames(node: ast.Node) -> set[str]:
    return {n.relname for n in walk(node) if isinstance(n, ast.RangeVar)}


def is_simple_select(select: ast.SelectStmt) -> bool:
    """No set operation, CTE, locking or VALUES: the shapes these rewrites know how to change."""
    return (select.op == 0 and select.withClause is None and not select.lockingClause
            and not select.valuesLists and select.intoClause is None)


def output_names(select: ast.SelectStmt) -> list[str]:
    names = []
    for i, target in enumerate(select.targetList or ()):
        if target.name:
            names.append(target.name)
        elif (ref := colref(target.val)) is not None:
            names.append(ref[1])
        elif isinstance(target.val, ast.FuncCall):
            names.append(func_name(target.val) or f"column{i + 1}")
        else:
            names.append(f"column{i + 1}")
    return names


def compact_params(node: ast.Node, values: list | None) -> list | None:
    """Renumber the `$n` under `node` to $1..$k in order of first use, and return the values
    they bind: PostgreSQL refuses a statement with a `$n` it cannot type, so a query made of
    part of another must not keep gaps in its numbering."""
    numbers = params(node)
    mapping = {old: new for new, old in enumerate(numbers, 1)}
    renumber_params(node, mapping)
    if values is None:
        return None if numbers else []
    return [values[old - 1] for old in numbers]


def bool_path(root: ast.Node | None, target: ast.Node) -> list[BoolExprType] | None:
    """The AND/OR/NOT operators from the WHERE clause down to `target`; None when something
    other than boolean operators sits in between (a CASE, a function, a comparison)."""
    if root is None:
        return None
    if root is target:
        return []
    if isinstance(root, ast.BoolExpr):
        for arg in root.args:
            path = bool_path(arg, target)
            if path is not None:
                return [root.boolop, *path]
    return None


def sublinks(select: ast.SelectStmt) -> list[ast.SubLink]:
    """The sublinks of the query's own level (not those nested in other subqueries)."""
    found = []
    for part in (select.targetList, select.whereClause, select.havingClause):
        for node in walk(part, into_subqueries=False):
            if isinstance(node, ast.SubLink):
                found.append(node)
    return found


def eq(left: ast.Node, right: ast.Node) -> ast.A_Expr:
    return ast.A_Expr(kind=0, name=(ast.String(sval="="),), lexpr=left, rexpr=right)


def not_(expr: ast.Node) -> ast.BoolExpr:
    return ast.BoolExpr(boolop=BoolExprType.NOT_EXPR, args=(expr,))


def or_all(terms: list[ast.Node]) -> ast.Node:
    return terms[0] if len(terms) == 1 else ast.BoolExpr(boolop=BoolExprType.OR_EXPR, args=tuple(terms))


def exists(select: ast.SelectStmt) -> ast.SubLink:
    return ast.SubLink(subLinkType=SubLinkType.EXISTS_SUBLINK, subselect=select)


def one() -> ast.ResTarget:
    return ast.ResTarget(val=ast.A_Const(isnull=False, val=ast.Integer(ival=1)))


def null_test(expr: ast.Node, is_null: bool) -> ast.NullTest:
    return ast.NullTest(arg=expr, nulltesttype=0 if is_null else 1)


def is_not_null_term(term: ast.Node, qualifier: str | None, column: str) -> bool:
    return (isinstance(term, ast.NullTest) and term.nulltesttype == 1
            and colref(term.arg) is not None and colref(term.arg)[1] == column
            and colref(term.arg)[0] in (qualifier, None))


def simple_subselect(select: ast.SelectStmt) -> Source | None:
    """The one table of a subquery with no grouping, limit, DISTINCT or set operation."""
    if not is_simple_select(select) or select.groupClause or select.havingClause or select.distinctClause \
            or select.limitCount is not None or select.limitOffset is not None or select.windowClause:
        return None
    return single_table(select)
