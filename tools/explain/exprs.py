"""Columns and how a condition uses them, read from the expression strings EXPLAIN prints.

`Filter`, `Index Cond`, `Recheck Cond`, `Join Filter` and `Hash Cond` are deparsed SQL, so the
way to read them is to parse them: each string is wrapped as `SELECT 1 WHERE <expr>` and the
pglast AST is walked. Casts that do not stop a plain index from being used (`(status)::text` on a
varchar column) are looked through; any other wrapper around a column (`lower(email)`,
`(created_at)::date`) makes the column an expression, because only an expression index serves it.

Anything pglast cannot parse yields no columns: the caller then reports the insight without
columns rather than failing the whole analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pglast import ast, parse_sql
from pglast.enums.parsenodes import A_Expr_Kind
from pglast.enums.primnodes import BoolExprType, BoolTestType, NullTestType
from pglast.stream import RawStream

EQUALITY = "equality"
IN = "in"  # = ANY (array) / IN (list): several equality probes, still a leading index column
RANGE = "range"
BOOLEAN = "boolean"  # a bare boolean column, `active` or `NOT active`
IS_NULL = "is_null"
IS_NOT_NULL = "is_not_null"
LIKE = "like"  # LIKE / ILIKE / regex: btree only for left-anchored patterns, trigram otherwise
CONTAINS = "contains"  # @>, <@, &&, ?, @@: GIN territory
OTHER = "other"  # <>, IS DISTINCT FROM, under NOT, column compared with a column of its own row
JOIN = "join"  # column = column of another relation, when the relation is not known

# Index keys: equality-like roles first (their order among themselves does not matter to a
# btree), then at most one range column, because a btree can only range-scan its last used key.
_KEY_ORDER = {EQUALITY: 0, BOOLEAN: 1, IN: 2, RANGE: 3}

_COMPARISONS = {"<", "<=", ">", ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}
_PATTERN_OPS = {"~~", "~~*", "~", "~*"}
_CONTAINMENT_OPS = {"@>", "<@", "&&", "?", "?|", "?&", "@@", "@?"}
# Casts that keep a plain index on the column usable: varchar/char/name to text are binary
# coercions, and PostgreSQL prints them on every comparison of a varchar column.
_TRANSPARENT_CASTS = {"text", "varchar", "bpchar", "name", "character varying", "character"}

# Plan-only syntax that is not SQL: sub-plan references. They are values, never columns.
_SUBPLAN = re.compile(r"\((?:hashed\s+)?(?:SubPlan|InitPlan)\s+\d+(?:\s+\(returns[^)]*\))?\)(?:\.col\d+)?")


@dataclass(frozen=True)
class ColumnUse:
    column: str  # bare column name, or the expression text such as "lower(email)"
    role: str
    operator: str | None = None
    value: str | None = None  # the other side as SQL, e.g. "'open'", "42", "$1"
    qualifier: str | None = None  # the table alias the plan printed, if any
    expression: bool = False  # needs an expression index
    in_or: bool = False  # under an OR: one composite index cannot serve it

    @property
    def predicate(self) -> str:
        """The condition as plain SQL without qualifiers, for a partial index WHERE clause."""
        if self.role == IS_NULL:
            return f"{self.column} IS NULL"
        if self.role == IS_NOT_NULL:
            return f"{self.column} IS NOT NULL"
        if self.role == BOOLEAN:
            return self.column if self.value != "false" else f"NOT {self.column}"
        if self.operator and self.value is not None:
            return f"{self.column} {self.operator} {self.value}"
        return self.column


def parse_condition(
    expr: str | None, *, alias: str | None = None, relation: str | None = None
) -> list[ColumnUse]:
    """Every column `expr` constrains, with its role, in the order they appear.

    With `alias`/`relation`, a column qualified by some other name is an outer reference (a
    nested-loop parameter, a join key) and counts as a value, so `(t1.a = t2.b)` read for t1 gives
    `a` with role equality. Without them, a comparison of two qualified columns is a JOIN.
    """
    if not expr or not isinstance(expr, str):
        return []
    return list(_parse_cached(expr, alias, relation))


def columns(expr: str | None, *, alias: str | None = None, relation: str | None = None) -> list[str]:
    """Distinct column names (or expressions) of `expr`, first appearance first."""
    seen: dict[str, None] = {}
    for use in parse_condition(expr, alias=alias, relation=relation):
        if use.role != JOIN:
            seen.setdefault(use.column, None)
    return list(seen)


def index_columns(uses: list[ColumnUse]) -> list[str]:
    """Key columns for one btree serving the AND-ed conditions: equality first, then one range.

    OR branches, negations, patterns and NULL tests are left out (a NULL test belongs in a partial
    index's WHERE, see `partial_predicates`).
    """
    best: dict[str, int] = {}
    for use in uses:
        if use.in_or or use.role not in _KEY_ORDER:
            continue
        rank = _KEY_ORDER[use.role]
        if use.column not in best or rank < best[use.column]:
            best[use.column] = rank
    ordered = sorted(best, key=lambda c: best[c])  # sorted() is stable: ties keep query order
    keys: list[str] = []
    for col in ordered:
        if best[col] == _KEY_ORDER[RANGE] and any(best[k] == _KEY_ORDER[RANGE] for k in keys):
            break  # a second range column would not narrow the btree scan
        keys.append(col)
    return keys


def partial_predicates(uses: list[ColumnUse]) -> list[str]:
    """AND-level IS [NOT] NULL tests, which make good partial-index predicates (soft deletes)."""
    out: list[str] = []
    for use in uses:
        if not use.in_or and use.role in (IS_NULL, IS_NOT_NULL) and use.predicate not in out:
            out.append(use.predicate)
    return out


def sort_keys(
    keys: list[str] | None, *, alias: str | None = None, relation: str | None = None
) -> list[tuple[str, str]]:
    """`Sort Key` entries as (column or expression, "asc" | "desc"); unreadable keys are skipped."""
    out: list[tuple[str, str]] = []
    for key in keys or []:
        if not isinstance(key, str):
            continue
        try:
            stmt = parse_sql(f"SELECT 1 ORDER BY {_SUBPLAN.sub('$0', key)}")[0].stmt
        except Exception:
            continue
        for sortby in stmt.sortClause or ():
            ctx = _Ctx(alias, relation)
            node = _strip_transparent(sortby.node)
            ref = _column_ref(node)
            if ref is not None:
                if not ctx.owns(ref[0]):
                    continue
                text = ref[1]
            elif _has_own_column(node, ctx):
                text = _render(node, top=True)
            else:
                continue
            if text is None:
                continue
            direction = "desc" if int(sortby.sortby_dir) == 2 else "asc"  # SORTBY_DESC
            out.append((text, direction))
    return out


# -- the walk -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _parse_cached(expr: str, alias: str | None, relation: str | None) -> tuple[ColumnUse, ...]:
    try:
        stmt = parse_sql(f"SELECT 1 WHERE {_SUBPLAN.sub('$0', expr)}")[0].stmt
    except Exception:
        return ()
    out: list[ColumnUse] = []
    try:
        _walk(stmt.whereClause, _Ctx(alias, relation), out, in_or=False)
    except Exception:
        # An AST shape this walker does not know must not break the caller; nothing is
        # better than half an answer.
        return ()
    return tuple(out)


@dataclass(frozen=True)
class _Ctx:
    alias: str | None
    relation: str | None

    @property
    def known(self) -> bool:
        return bool(self.alias or self.relation)

    def owns(self, qualifier: str | None) -> bool:
        if qualifier is None or not self.known:
            return True
        return qualifier in (self.alias, self.relation)


def _walk(node, ctx: _Ctx, out: list[ColumnUse], *, in_or: bool) -> None:
    if node is None:
        return
    if isinstance(node, ast.BoolExpr):
        op = BoolExprType(node.boolop)
        if op == BoolExprType.AND_EXPR:
            for arg in node.args:
                _walk(arg, ctx, out, in_or=in_or)
        elif op == BoolExprType.OR_EXPR:
            for arg in node.args:
                _walk(arg, ctx, out, in_or=True)
        else:  # NOT
            arg = _strip_transparent(node.args[0])
            ref = _column_ref(arg)
            if ref and ctx.owns(ref[0]):
                out.append(ColumnUse(ref[1], BOOLEAN, value="false", qualifier=ref[0], in_or=in_or))
            else:
                _collect_as(arg, ctx, out, OTHER, in_or)
        return
    if isinstance(node, ast.NullTest):
        role = IS_NULL if NullTestType(node.nulltesttype) == NullTestType.IS_NULL else IS_NOT_NULL
        _single(node.arg, ctx, out, role, None, None, in_or)
        return
    if isinstance(node, ast.BooleanTest):
        kind = BoolTestType(node.booltesttype)
        if kind in (BoolTestType.IS_TRUE, BoolTestType.IS_FALSE):
            value = "true" if kind == BoolTestType.IS_TRUE else "false"
            _single(node.arg, ctx, out, BOOLEAN, None, value, in_or)
        else:
            _collect_as(node.arg, ctx, out, OTHER, in_or)
        return
    if isinstance(node, ast.A_Expr):
        _a_expr(node, ctx, out, in_or)
        return
    stripped = _strip_transparent(node)
    ref = _column_ref(stripped)
    if ref is not None:
        if ctx.owns(ref[0]):
            out.append(ColumnUse(ref[1], BOOLEAN, value="true", qualifier=ref[0], in_or=in_or))
        return
    _collect_as(node, ctx, out, OTHER, in_or)


def _a_expr(node: ast.A_Expr, ctx: _Ctx, out: list[ColumnUse], in_or: bool) -> None:
    kind = A_Expr_Kind(node.kind)
    op = _op_name(node)
    if kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM):
        _single(node.lexpr, ctx, out, RANGE, "BETWEEN", None, in_or)
        return
    if kind == A_Expr_Kind.AEXPR_IN:
        positive = op == "="
        _single(node.lexpr, ctx, out, IN if positive else OTHER, "IN" if positive else "NOT IN", None, in_or)
        return
    if kind in (A_Expr_Kind.AEXPR_OP_ANY, A_Expr_Kind.AEXPR_OP_ALL):
        if kind == A_Expr_Kind.AEXPR_OP_ANY and op == "=":
            role = IN
        elif op in _PATTERN_OPS:
            role = LIKE
        elif op in _COMPARISONS:
            role = RANGE
        else:
            role = OTHER
        suffix = "ANY" if kind == A_Expr_Kind.AEXPR_OP_ANY else "ALL"
        _single(node.lexpr, ctx, out, role, f"{op} {suffix}", _render(node.rexpr), in_or)
        return
    if kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE, A_Expr_Kind.AEXPR_SIMILAR):
        role = OTHER if op.startswith("!") else LIKE
        _single(node.lexpr, ctx, out, role, op, _render(node.rexpr), in_or)
        return
    if kind != A_Expr_Kind.AEXPR_OP:  # IS DISTINCT FROM, NULLIF, ...
        _collect_as(node, ctx, out, OTHER, in_or)
        return
    if node.lexpr is None:  # prefix operator
        _collect_as(node.rexpr, ctx, out, OTHER, in_or)
        return

    left_own = _has_own_column(node.lexpr, ctx)
    right_own = _has_own_column(node.rexpr, ctx)
    if left_own and right_own and not ctx.known:
        # Plans qualify columns only when several relations are in scope, and then leave the
        # scanned relation's own column bare in an Index Cond: `(unique1 = t2.twenty)`.
        lq = {q for q, _ in _column_refs(node.lexpr)}
        rq = {q for q, _ in _column_refs(node.rexpr)}
        if lq == {None} and None not in rq:
            right_own = False
        elif rq == {None} and None not in lq:
            left_own = False
    if left_own and right_own:
        lref, rref = _column_ref(_strip_transparent(node.lexpr)), _column_ref(_strip_transparent(node.rexpr))
        if not ctx.known and lref and rref and lref[0] and rref[0] and lref[0] != rref[0]:
            role = JOIN  # both sides qualified differently: a join key, relation unknown
        else:
            role = OTHER
        for side, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
            _single(side, ctx, out, role, op, _render(other), in_or)
        return
    if not left_own and not right_own:
        return
    key, other = (node.lexpr, node.rexpr) if left_own else (node.rexpr, node.lexpr)
    shown_op = op if left_own else _FLIP.get(op, op)
    if op == "=":
        role = EQUALITY
    elif op in _COMPARISONS:
        role = RANGE
    elif op in _PATTERN_OPS:
        role = LIKE if left_own else OTHER
    elif op in _CONTAINMENT_OPS:
        role = CONTAINS
    else:
        role = OTHER
    _single(key, ctx, out, role, shown_op, _render(other), in_or)


def _single(
    node, ctx: _Ctx, out: list[ColumnUse], role: str, op: str | None, value: str | None, in_or: bool
) -> None:
    """Record `node` (one side of a condition) as a column or as an expression of columns."""
    node = _strip_transparent(node)
    ref = _column_ref(node)
    if ref is not None:
        if ctx.owns(ref[0]):
            out.append(ColumnUse(ref[1], role, op, value, ref[0], in_or=in_or))
        return
    if not _has_own_column(node, ctx):
        return
    text = _render(node, top=True)
    if text is None:
        _collect_as(node, ctx, out, OTHER, in_or)
        return
    out.append(ColumnUse(text, role, op, value, None, expression=True, in_or=in_or))


def _collect_as(node, ctx: _Ctx, out: list[ColumnUse], role: str, in_or: bool) -> None:
    """Every own column under `node`, with a role that proposes no index key."""
    for ref in _column_refs(node):
        if ctx.owns(ref[0]):
            out.append(ColumnUse(ref[1], role, qualifier=ref[0], in_or=in_or))


# -- AST helpers ----------------------------------------------------------------------------


def _op_name(node: ast.A_Expr) -> str:
    names = node.name or ()
    return names[-1].sval if names else ""


def _type_name(tn: ast.TypeName) -> str:
    names = [n.sval for n in tn.names or ()]
    name = names[-1] if names else ""
    return name + ("[]" if tn.arrayBounds else "")


def _strip_transparent(node):
    while isinstance(node, ast.TypeCast) and _type_name(node.typeName) in _TRANSPARENT_CASTS:
        if not _column_refs(node.arg):
            break  # a cast of a constant is part of the value, keep it
        node = node.arg
    return node


def _column_ref(node) -> tuple[str | None, str] | None:
    if isinstance(node, ast.ColumnRef):
        fields = [f.sval for f in node.fields if isinstance(f, ast.String)]
        if len(fields) != len(node.fields) or not fields:
            return None  # t.* and the like
        return (fields[-2] if len(fields) >= 2 else None), fields[-1]
    return None


def _column_refs(node) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []

    def visit(n) -> None:
        if isinstance(n, ast.ColumnRef):
            ref = _column_ref(n)
            if ref:
                found.append(ref)
            return
        if isinstance(n, ast.Node):
            for attr in n:
                visit(getattr(n, attr))
        elif isinstance(n, (tuple, list)):
            for item in n:
                visit(item)

    visit(node)
    return found


def _has_own_column(node, ctx: _Ctx) -> bool:
    return any(ctx.owns(q) for q, _ in _column_refs(node))


def _render(node, top: bool = False, qualified: bool = True) -> str | None:
    """SQL text for `node`. Index keys (`top`) drop table qualifiers and get the parentheses an
    expression key needs; values keep qualifiers so `t2.twenty` still says where it comes from."""
    try:
        return _r(node, top=top, qualified=qualified and not top)
    except _Unrenderable:
        try:
            return RawStream()(node)
        except Exception:
            return None


class _Unrenderable(Exception):
    pass


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _r(node, top: bool = False, qualified: bool = False) -> str:
    if isinstance(node, ast.ColumnRef):
        ref = _column_ref(node)
        if ref is None:
            raise _Unrenderable
        return f"{ref[0]}.{ref[1]}" if qualified and ref[0] else ref[1]
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return "NULL"
        val = node.val
        if isinstance(val, ast.String):
            return _quote_literal(val.sval)
        if isinstance(val, ast.Integer):
            return str(val.ival)
        if isinstance(val, ast.Float):
            return val.fval
        if isinstance(val, ast.Boolean):
            return "true" if val.boolval else "false"
        raise _Unrenderable
    if isinstance(node, ast.ParamRef):
        return f"${node.number}"
    if isinstance(node, ast.TypeCast):
        tname = _type_name(node.typeName)
        inner = node.arg
        if tname in _TRANSPARENT_CASTS and (_column_refs(inner) or isinstance(inner, ast.A_Const)):
            return _r(inner, top, qualified)  # 'open'::text and (status)::text read the same without it
        text = f"{_r(inner, qualified=qualified)}::{_pretty_type(tname)}"
        return f"({text})" if top else text
    if isinstance(node, ast.FuncCall):
        name = ".".join(n.sval for n in node.funcname if n.sval != "pg_catalog")
        if node.agg_star:
            return f"{name}(*)"
        return f"{name}({', '.join(_r(a, qualified=qualified) for a in node.args or ())})"
    if isinstance(node, ast.A_Expr) and A_Expr_Kind(node.kind) == A_Expr_Kind.AEXPR_OP:
        op = _op_name(node)
        left = _r(node.lexpr, qualified=qualified) + " " if node.lexpr is not None else ""
        # Always wrapped: a nested operator must keep its meaning without precedence rules.
        return f"({left}{op} {_r(node.rexpr, qualified=qualified)})"
    if isinstance(node, ast.CoalesceExpr):
        return f"COALESCE({', '.join(_r(a, qualified=qualified) for a in node.args)})"
    raise _Unrenderable


_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "timestamptz": "timestamptz",
}


def _pretty_type(name: str) -> str:
    suffix = "[]" if name.endswith("[]") else ""
    base = name.removesuffix("[]")
    return _TYPE_NAMES.get(base, base) + suffix
