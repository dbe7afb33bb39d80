"""How a query filters on a column: by range, by equality, or with the column hidden inside a
function or cast - which no partition pruning (and no plain index) can see through."""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast
from pglast.enums import A_Expr_Kind

from tools.rewrites.sql import colref, conjuncts, deparse, sources, walk

RANGE_OPS = {"<", "<=", ">", ">="}


@dataclass
class Use:
    kind: str  # "range", "equality", "wrapped"
    text: str  # the condition as PostgreSQL prints it


def column_uses(node: ast.Node, table: str, column: str) -> list[Use]:
    """Conditions on table.column in every SELECT/UPDATE/DELETE under `node` (WHERE and JOIN ON)."""
    uses: list[Use] = []
    for select in walk(node):
        if not isinstance(select, (ast.SelectStmt, ast.UpdateStmt, ast.DeleteStmt)):
            continue
        aliases = _aliases(select, table)
        if not aliases:
            continue
        conditions = [select.whereClause] + [s.quals for s in _sources(select) if s.quals is not None]
        for cond in conditions:
            for term in conjuncts(cond):
                for expr in walk(term, into_subqueries=False):
                    use = _classify(expr, aliases, column)
                    if use is not None:
                        uses.append(use)
    return uses


def _sources(select):
    if isinstance(select, ast.SelectStmt):
        return sources(select)
    return []


def _aliases(select, table: str) -> set[str | None]:
    found: set[str | None] = set()
    rels = []
    if isinstance(select, ast.SelectStmt):
        rels = [(s.alias, s.relname) for s in sources(select)]
    elif isinstance(select, (ast.UpdateStmt, ast.DeleteStmt)) and select.relation is not None:
        rel = select.relation
        rels = [(rel.alias.aliasname if rel.alias else rel.relname, rel.relname)]
    for alias, relname in rels:
        if relname == table:
            found |= {alias, None}
    return found


def _is_col(node, aliases, column) -> bool:
    ref = colref(node)
    return bool(ref and ref[1] == column and ref[0] in aliases)


def _mentions(node, aliases, column) -> bool:
    return any(_is_col(n, aliases, column) for n in walk(node, into_subqueries=False))


def _classify(expr, aliases, column) -> Use | None:
    if not isinstance(expr, ast.A_Expr):
        return None
    op = expr.name[-1].sval if expr.name else ""
    sides = [expr.lexpr] + (list(expr.rexpr) if isinstance(expr.rexpr, tuple) else [expr.rexpr])
    bare = any(_is_col(s, aliases, column) for s in sides)
    hidden = not bare and any(s is not None and not isinstance(s, tuple) and _mentions(s, aliases, column)
                              for s in sides)
    if not bare and not hidden:
        return None
    if hidden:
        return Use("wrapped", deparse(expr))
    if expr.kind == A_Expr_Kind.AEXPR_OP and op in RANGE_OPS:
        return Use("range", deparse(expr))
    if expr.kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM):
        return Use("range", deparse(expr))
    if (expr.kind == A_Expr_Kind.AEXPR_OP and op == "=") or expr.kind in (A_Expr_Kind.AEXPR_IN,
                                                                           A_Expr_Kind.AEXPR_OP_ANY):
        return Use("equality", deparse(expr))
    return None
