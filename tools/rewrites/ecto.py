"""SQL back into Ecto: the query a developer would write to make PostgreSQL run a rewrite.

The input is the rewritten parse tree; the output is Ecto's keyword query syntax with the
shapes the Postgres adapter turns back into that SQL (shared/reference/ecto-formats.md §6):
`exists/1` with `parent_as/1` for correlated subqueries, `subquery/1` sources and lateral
joins, `over/2` windows, `type/2` for cast params, and `fragment/1` for anything Ecto has no
macro for. Schema modules are named after their tables (`order_items` -> `OrderItem`); the
real module names live in the app, and the code says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType, SortByDir, SortByNulls, SubLinkType

from tools.explain.ecto_fix import elixir_string
from tools.rewrites.catalog import Table
from tools.rewrites.sql import clone, colref, deparse, func_name, replace, sources, walk

_ELIXIR_VAR = re.compile(r"^[a-z_][a-zA-Z0-9_]*$")
_RESERVED = {"do", "end", "fn", "true", "false", "nil", "when", "and", "or", "not", "in", "catch", "rescue",
             "after", "else"}
_OPS = {"=": "==", "<>": "!=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "+": "+", "-": "-",
        "*": "*", "/": "/"}
_ECTO_TYPES = {"int8": ":integer", "int4": ":integer", "int2": ":integer", "bigint": ":integer",
               "integer": ":integer", "smallint": ":integer", "text": ":string", "varchar": ":string",
               "bool": ":boolean", "boolean": ":boolean", "timestamp": ":naive_datetime",
               "timestamptz": ":utc_datetime", "date": ":date", "numeric": ":decimal", "float8": ":float",
               "uuid": ":binary_id", "jsonb": ":map"}
_WINDOW_FUNCS = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist"}
_PLACEHOLDER_BASE = 90000


def schema_module(table: str) -> str:
    """`order_items` -> `OrderItem`: Ecto's convention of singular schema modules."""
    words = table.split("_")
    words[-1] = singular(words[-1])
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "uses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def field_access(var: str, column: str) -> str:
    if _ELIXIR_VAR.match(column) and column not in _RESERVED:
        return f"{var}.{column}"
    return f"field({var}, {_atom(column)})"


def _atom(name: str) -> str:
    return f":{name}" if _ELIXIR_VAR.match(name) and name not in _RESERVED else f":{elixir_string(name)}"


def _key(name: str) -> str:
    return f"{name}:" if _ELIXIR_VAR.match(name) and name not in _RESERVED else f"{elixir_string(name)}:"


@dataclass
class _Scope:
    bindings: dict[str, str]  # SQL alias -> Elixir binding variable
    tables: dict[str, str | None]  # SQL alias -> table name (None for subqueries)
    parent: "_Scope | None" = None
    named: set[str] = field(default_factory=set)  # aliases that need `as:` (a subquery refers to them)

    def atom(self, alias: str) -> str:
        return re.sub(r"[^a-z0-9_]", "_", self.tables.get(alias) and singular(self.tables[alias]) or alias)


class EctoWriter:
    """Renders one rewritten SELECT (and the subqueries it needs, hoisted into variables)."""

    def __init__(self, tables: dict[str, Table] | None = None, *, param_names: dict[int, str] | None = None,
                 subquery_names: dict[str, str] | None = None, select_struct: bool = False):
        self.tables = tables or {}
        self.param_names: dict[int, str] = dict(param_names or {})
        self.subquery_names = dict(subquery_names or {})
        self.select_struct = select_struct  # `select: struct(p, [...])` for a column subset of one table
        self.hoisted: list[str] = []

    # ---- entry point ---------------------------------------------------------------------------

    def render(self, select: ast.SelectStmt) -> str:
        self._name_params(select)
        main = self._query(select, None, multiline=True)
        parts = self.hoisted + [main]
        note = self._schema_note(select)
        return "\n\n".join(([note] if note else []) + parts)

    def _schema_note(self, select: ast.SelectStmt) -> str:
        tables = sorted({n.relname for n in walk(select) if isinstance(n, ast.RangeVar)})
        if not tables:
            return ""
        pairs = ", ".join(f"{schema_module(t)} (\"{t}\")" for t in tables)
        return f"# Schemas assumed: {pairs}; use your app's aliases.\nimport Ecto.Query"

    # ---- params ----------------------------------------------------------------------------------

    def _name_params(self, select: ast.SelectStmt) -> None:
        used = set(self.param_names.values())

        def claim(number: int, name: str) -> None:
            if number in self.param_names:
                return
            base, i = name, 2
            while name in used:
                name, i = f"{base}_{i}", i + 1
            used.add(name)
            self.param_names[number] = name

        for node in walk(select):
            if isinstance(node, ast.A_Expr):
                ref = colref(node.lexpr) or colref(node.rexpr)
                other = node.rexpr if colref(node.lexpr) else node.lexpr
                if isinstance(other, ast.TypeCast):
                    other = other.arg
                if ref and isinstance(other, ast.ParamRef):
                    name = ref[1] + ("s" if node.kind == A_Expr_Kind.AEXPR_OP_ANY else "")
                    claim(other.number, name)
            if isinstance(node, ast.SelectStmt):
                for attr in ("limitCount", "limitOffset"):
                    value = getattr(node, attr)
                    if isinstance(value, ast.ParamRef):
                        claim(value.number, "limit" if attr == "limitCount" else "offset")
        for node in walk(select):
            if isinstance(node, ast.ParamRef):
                claim(node.number, f"p{node.number}")

    # ---- queries ---------------------------------------------------------------------------------

    def _scope(self, select: ast.SelectStmt, parent: _Scope | None) -> _Scope:
        bindings: dict[str, str] = {}
        tables: dict[str, str | None] = {}
        taken: set[str] = set()
        for src in sources(select):
            if isinstance(src.node, ast.RangeSubselect) and src.alias in self.subquery_names:
                base = self.subquery_names[src.alias][0]
            else:
                m = re.match(r"^[a-z]*?([a-z])\d+$", src.alias)
                base = m.group(1) if m else (src.alias if _ELIXIR_VAR.match(src.alias) else "x")
                if src.relname and not m:
                    base = src.relname[0]
            var, i = base, 2
            while var in taken or var in _RESERVED:
                var, i = f"{base}{i}", i + 1
            taken.add(var)
            bindings[src.alias] = var
            tables[src.alias] = src.relname
        return _Scope(bindings, tables, parent)

    def _source(self, src_node: ast.Node, alias: str, scope: _Scope) -> str:
        if isinstance(src_node, ast.RangeVar):
            return schema_module(src_node.relname)
        if isinstance(src_node, ast.RangeSubselect):
            name = self.subquery_names.get(alias) or f"{alias}_query"
            self.hoisted.append(f"{name} =\n" + _indent(self._query(src_node.subquery, scope, multiline=True), 2))
            return f"subquery({name})"
        return self._fragment(src_node, scope)

    def _query(self, select: ast.SelectStmt, parent: _Scope | None, *, multiline: bool,
               skip_select: bool = False) -> str:
        scope = self._scope(select, parent)
        srcs = sources(select)
        if not srcs:
            return "# (a query without FROM: run it with Repo.query/2)"
        first, rest = srcs[0], srcs[1:]
        head = f"from {scope.bindings[first.alias]} in {self._source(first.node, first.alias, scope)}"
        joins: list[tuple[str, list[str]]] = []
        for src in rest:
            lateral = isinstance(src.node, ast.RangeSubselect) and src.node.lateral
            kind = {"inner": "join", "from": "join", "left": "left_join", "right": "right_join",
                    "full": "full_join"}[src.join_type]
            if lateral:
                kind = "left_lateral_join" if src.join_type == "left" else "inner_lateral_join"
            source = self._source(src.node, src.alias, scope)
            on = self._expr(src.quals, scope) if src.quals is not None else "true"
            joins.append((src.alias, [f"{kind}: {scope.bindings[src.alias]} in {source}", f"on: {on}"]))
        clauses: list[str] = []
        from tools.rewrites.sql import conjuncts

        for term in conjuncts(select.whereClause):
            clauses.append(f"where: {self._expr(term, scope)}")
        if select.groupClause:
            clauses.append(f"group_by: {self._list([self._expr(g, scope) for g in select.groupClause])}")
        if select.havingClause is not None:
            clauses.append(f"having: {self._expr(select.havingClause, scope)}")
        if select.distinctClause:
            exprs = [d for d in select.distinctClause if d is not None]
            clauses.append("distinct: " + (self._list([self._expr(d, scope) for d in exprs]) if exprs else "true"))
        if select.sortClause:
            clauses.append(f"order_by: [{', '.join(self._sort(s, scope) for s in select.sortClause)}]")
        if select.limitCount is not None:
            clauses.append(f"limit: {self._expr(select.limitCount, scope)}")
        if select.limitOffset is not None:
            clauses.append(f"offset: {self._expr(select.limitOffset, scope)}")
        selected = None if skip_select else self._select(select, scope)
        if selected:
            clauses.append(f"select: {selected}")
        # `as:` is known only now: the subqueries rendered above asked for their parents' names.
        parts = [head] + ([f"as: :{scope.atom(first.alias)}"] if first.alias in scope.named else [])
        for alias, (join, on) in joins:
            parts.append(join)
            if alias in scope.named:
                parts.append(f"as: :{scope.atom(alias)}")
            parts.append(on)
        parts += clauses
        if not multiline:
            return ", ".join(parts)
        return parts[0] + ("," if len(parts) > 1 else "") + "".join(
            f"\n  {p}{',' if i < len(parts) - 2 else ''}" for i, p in enumerate(parts[1:]))

    def _select(self, select: ast.SelectStmt, scope: _Scope) -> str | None:
        targets = list(select.targetList or ())
        if len(targets) == 1 and isinstance(targets[0].val, ast.ColumnRef) and \
                isinstance(targets[0].val.fields[-1], ast.A_Star):
            fields = targets[0].val.fields
            alias = fields[0].sval if len(fields) == 2 else next(iter(scope.bindings))
            return scope.bindings.get(alias, "x")
        refs = [colref(t.val) for t in targets]
        if targets and all(r and not t.name for r, t in zip(refs, targets)):
            aliases = {r[0] for r in refs}
            if len(aliases) == 1:
                alias = next(iter(aliases)) or next(iter(scope.bindings))
                table = self.tables.get(scope.tables.get(alias) or "")
                names = [r[1] for r in refs]
                if table and names == list(table.columns):
                    return None  # every field of the schema: Ecto's default select
                if self.select_struct and alias in scope.bindings:
                    return f"struct({scope.bindings[alias]}, [{', '.join(_atom(n) for n in names)}])"
        if len(targets) == 1 and not targets[0].name and refs[0] is None:
            return self._expr(targets[0].val, scope)  # `select: count()`
        items, seen = [], set()
        for i, target in enumerate(targets):
            ref = colref(target.val)
            name = target.name or (ref[1] if ref else func_name(target.val) or f"column{i + 1}")
            base, n = name, 2
            while name in seen:
                name, n = f"{base}_{n}", n + 1
            seen.add(name)
            items.append(f"{_key(name)} {self._expr(target.val, scope)}")
        return "%{" + ", ".join(items) + "}"

    def _sort(self, sort: ast.SortBy, scope: _Scope) -> str:
        direction = "desc" if sort.sortby_dir == SortByDir.SORTBY_DESC else "asc"
        if sort.sortby_nulls == SortByNulls.SORTBY_NULLS_FIRST:
            direction += "_nulls_first"
        elif sort.sortby_nulls == SortByNulls.SORTBY_NULLS_LAST:
            direction += "_nulls_last"
        return f"{direction}: {self._expr(sort.node, scope)}"

    @staticmethod
    def _list(items: list[str]) -> str:
        return items[0] if len(items) == 1 else f"[{', '.join(items)}]"

    # ---- expressions -----------------------------------------------------------------------------

    def _column(self, node: ast.ColumnRef, scope: _Scope) -> str:
        ref = colref(node)
        if ref is None:  # t.*
            alias = node.fields[0].sval if len(node.fields) == 2 else next(iter(scope.bindings))
            return scope.bindings.get(alias, alias)
        alias, column = ref
        if alias is None:
            alias = next(iter(scope.bindings))
        current: _Scope | None = scope
        depth = 0
        while current is not None:
            if alias in current.bindings:
                if depth == 0:
                    return field_access(current.bindings[alias], column)
                current.named.add(alias)
                return field_access(f"parent_as(:{current.atom(alias)})", column)
            current, depth = current.parent, depth + 1
        return field_access(alias, column)

    def _expr(self, node: ast.Node | None, scope: _Scope, top: bool = True) -> str:
        if node is None:
            return "true"
        if isinstance(node, ast.ColumnRef):
            return self._column(node, scope)
        if isinstance(node, ast.ParamRef):
            return "^" + self.param_names.get(node.number, f"p{node.number}")
        if isinstance(node, ast.A_Const):
            return _const(node)
        if isinstance(node, ast.TypeCast):
            type_name = node.typeName.names[-1].sval
            ecto_type = _ECTO_TYPES.get(type_name)
            if ecto_type and isinstance(node.arg, (ast.ParamRef, ast.ColumnRef)):
                if node.typeName.arrayBounds:
                    ecto_type = f"{{:array, {ecto_type}}}"
                return f"type({self._expr(node.arg, scope)}, {ecto_type})"
            return self._fragment(node, scope)
        if isinstance(node, ast.BoolExpr):
            if node.boolop == BoolExprType.NOT_EXPR:
                return f"not({self._expr(node.args[0], scope, top=True)})"
            op = " and " if node.boolop == BoolExprType.AND_EXPR else " or "
            text = op.join(self._expr(a, scope, top=False) for a in node.args)
            return text if top else f"({text})"
        if isinstance(node, ast.NullTest):
            inner = self._expr(node.arg, scope)
            return f"is_nil({inner})" if node.nulltesttype == NullTestType.IS_NULL else f"not is_nil({inner})"
        if isinstance(node, ast.A_Expr):
            return self._a_expr(node, scope, top)
        if isinstance(node, ast.SubLink):
            return self._sublink(node, scope)
        if isinstance(node, ast.FuncCall):
            return self._func(node, scope)
        if isinstance(node, ast.CoalesceExpr):
            args = [self._expr(a, scope) for a in node.args]
            text = args[-1]
            for arg in reversed(args[:-1]):
                text = f"coalesce({arg}, {text})"
            return text
        return self._fragment(node, scope)

    def _a_expr(self, node: ast.A_Expr, scope: _Scope, top: bool) -> str:
        op = node.name[-1].sval if node.name else ""
        rowwise = isinstance(node.lexpr, ast.RowExpr) or isinstance(node.rexpr, ast.RowExpr)
        if node.kind == A_Expr_Kind.AEXPR_OP and op in _OPS and not rowwise:
            if node.lexpr is None:
                return f"-{self._expr(node.rexpr, scope, top=False)}" if op == "-" else self._fragment(node, scope)
            text = f"{self._expr(node.lexpr, scope, top=False)} {_OPS[op]} {self._expr(node.rexpr, scope, top=False)}"
            return text if top or op in ("=", "<>", "!=", "<", "<=", ">", ">=") else f"({text})"
        if node.kind == A_Expr_Kind.AEXPR_OP_ANY and op == "=":
            right = node.rexpr.arg if isinstance(node.rexpr, ast.TypeCast) else node.rexpr
            if isinstance(right, ast.ParamRef):
                # `x in ^ids` is how Ecto writes `= ANY($1)`; it casts the list by the field's type.
                return f"{self._expr(node.lexpr, scope)} in {self._expr(right, scope)}"
        if node.kind == A_Expr_Kind.AEXPR_IN and isinstance(node.rexpr, tuple):
            values = ", ".join(self._expr(v, scope) for v in node.rexpr)
            word = "not in" if op == "<>" else "in"
            return f"{self._expr(node.lexpr, scope)} {word} [{values}]"
        if node.kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE):
            fun = "ilike" if node.kind == A_Expr_Kind.AEXPR_ILIKE else "like"
            text = f"{fun}({self._expr(node.lexpr, scope)}, {self._expr(node.rexpr, scope)})"
            return f"not {text}" if op.startswith("!") else text
        if node.kind == A_Expr_Kind.AEXPR_BETWEEN and isinstance(node.rexpr, tuple):
            left = self._expr(node.lexpr, scope)
            low, high = (self._expr(v, scope) for v in node.rexpr)
            text = f"{left} >= {low} and {left} <= {high}"
            return text if top else f"({text})"
        return self._fragment(node, scope)

    def _sublink(self, node: ast.SubLink, scope: _Scope) -> str:
        if node.subLinkType == SubLinkType.EXISTS_SUBLINK:
            # EXISTS ignores what the subquery selects; Ecto needs no select: for it.
            return f"exists({self._query(node.subselect, scope, multiline=False, skip_select=True)})"
        inner = self._query(node.subselect, scope, multiline=False)
        if node.subLinkType == SubLinkType.ANY_SUBLINK and not node.operName:
            return f"{self._expr(node.testexpr, scope)} in subquery({inner})"
        return f"subquery({inner})"

    def _func(self, node: ast.FuncCall, scope: _Scope) -> str:
        name = func_name(node)
        args = [self._expr(a, scope) for a in node.args or ()]
        if node.over is not None:
            if name not in _WINDOW_FUNCS and name not in ("count", "sum", "min", "max", "avg"):
                return self._fragment(node, scope)
            call = f"{name}({', '.join(args)})" if name != "count" or args else "count()"
            opts = []
            over = node.over
            if over.partitionClause:
                opts.append("partition_by: " + self._list([self._expr(p, scope) for p in over.partitionClause]))
            if over.orderClause:
                opts.append(f"order_by: [{', '.join(self._sort(s, scope) for s in over.orderClause)}]")
            return f"over({call}" + (f", {', '.join(opts)})" if opts else ")")
        if node.agg_filter is not None or node.agg_order:
            return self._fragment(node, scope)
        if name == "count":
            if node.agg_star:
                return "count()"
            return f"count({args[0]}, :distinct)" if node.agg_distinct else f"count({args[0]})"
        if name in ("sum", "avg", "min", "max") and len(args) == 1 and not node.agg_distinct:
            return f"{name}({args[0]})"
        if name == "coalesce" and len(args) == 2:
            return f"coalesce({args[0]}, {args[1]})"
        return self._fragment(node, scope)

    def _fragment(self, node: ast.Node, scope: _Scope) -> str:
        """`fragment("lower(?)", u.email)`: the SQL as PostgreSQL prints it, with the column
        references and params passed as Ecto arguments so bindings stay Ecto's."""
        copy_ = clone(node)
        args: dict[int, ast.Node] = {}
        targets = [n for n in walk(copy_, into_subqueries=False)
                   if (isinstance(n, ast.ColumnRef) and colref(n)) or isinstance(n, ast.ParamRef)]
        holder = ast.SelectStmt(targetList=(ast.ResTarget(val=copy_),))
        for i, n in enumerate(targets):
            number = _PLACEHOLDER_BASE + i
            args[number] = n
            replace(holder, n, ast.ParamRef(number=number))
        text = deparse(holder.targetList[0].val)
        ordered: list[str] = []

        def sub(m: re.Match) -> str:
            ordered.append(self._expr(args[int(m.group(1))], scope))
            return "?"

        text = re.sub(r"\$(9\d{4})\b", sub, text)
        return "fragment(" + ", ".join([elixir_string(text)] + ordered) + ")"


def _const(node: ast.A_Const) -> str:
    if node.isnull:
        return "nil"
    val = node.val
    if isinstance(val, ast.Integer):
        return str(val.ival)
    if isinstance(val, ast.Float):
        return val.fval
    if isinstance(val, ast.Boolean):
        return "true" if val.boolval else "false"
    if isinstance(val, ast.String):
        return elixir_string(val.sval)
    return elixir_string(deparse(node))


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.splitlines())


def render(select: ast.SelectStmt, tables: dict[str, Table] | None = None, **kwargs) -> str:
    return EctoWriter(tables, **kwargs).render(select)
