"""Index candidates read from the queries themselves, with PostgreSQL's own parser (pglast).

Per table a query touches, its AND-ed conditions are sorted into equality (`=`, `= ANY($1)`,
`IN (...)`, join keys), IS [NOT] NULL, boolean and range columns, next to its ORDER BY and
GROUP BY keys. From those come composite keys in the orders that can serve the query: equality
columns first, then the sort, then one range column (ESR), and the range-before-sort variant
(ERS); HypoPG arbitrates between them (shared/reference/index-advisors.md §7).

Partial indexes come only from literal predicates: Ecto inlines literals (`is_nil(p.deleted_at)`,
`p.status == "active"`), while a `$n` parameter cannot prove a partial index's predicate under a
generic plan (§8). Functions of columns become expression keys (`lower(email)`). A query that
reads many rows but only a few narrow columns gets INCLUDE variants for an index-only scan (§9).

Conditions are read with tools.explain.exprs, the same reader the explain insights use, so a
column means the same thing to both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from pglast import ast, parse_sql
from pglast.enums.parsenodes import SetOperation
from pglast.stream import RawStream
from pglast.visitors import Visitor

from tools.errors import InputError
from tools.explain.ecto_fix import ecto_index_name, index_sql, is_column_name, quote_ident
from tools.explain.exprs import (
    BOOLEAN,
    EQUALITY,
    IN,
    IS_NOT_NULL,
    IS_NULL,
    LIKE,
    RANGE,
    ColumnUse,
    parse_condition,
    sort_keys,
)
from tools.indexes.catalog import TableInfo, norm_key

# A btree wider than this is rarely worth its size and write cost; the greedy search may still
# extend a chosen index, up to MAX_KEYS.
MAX_KEYS = 4
# INCLUDE is for narrow selects: a couple of small payload columns (ids, numbers, timestamps,
# short codes). Wider payload bloats every index page, and every updated payload column costs
# the table its HOT updates.
MAX_INCLUDE = 2
MAX_INCLUDE_WIDTH = 20  # bytes (pg_stats.avg_width)
# An index-only scan saves one heap visit per row read: for a lookup or a page of a few dozen
# rows that is well under a millisecond, not worth a wider index, though the planner's cost of a
# one-row lookup halves.
COVERING_MIN_ROWS = 100
TINY_PAGES = 8  # 64 kB: a sequential scan of so few pages beats any index on it
MAX_PER_ACCESS = 24

_OTHER_COLUMN = re.compile(r'^"?[A-Za-z_][\w$]*"?\."?[A-Za-z_][\w$]*"?$')
_LITERAL = re.compile(r"^(?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false)(?:::[\w ]+(?:\[\])?)?$", re.I)


@dataclass(frozen=True)
class IndexDef:
    """One index, real or hypothetical. Keys are column names or expressions, " DESC" appended
    for a descending key (only needed when a sort mixes directions)."""

    table: str
    keys: tuple[str, ...]
    schema: str = "public"
    where: str | None = None
    include: tuple[str, ...] = ()
    unique: bool = False
    using: str = "btree"

    @property
    def name(self) -> str:
        """The name Ecto's `index/2` gives it by default."""
        return ecto_index_name(self.table, self.keys)

    def sql(self, *, concurrently: bool = True, name: str | None = None) -> str:
        return index_sql(self.table, list(self.keys), where=self.where, include=list(self.include) or None,
                         unique=self.unique, using=None if self.using == "btree" else self.using,
                         prefix=self.schema, concurrently=concurrently, name=name)

    def label(self) -> str:
        text = f"{self.table} ({', '.join(self.keys)})"
        if self.include:
            text += f" INCLUDE ({', '.join(self.include)})"
        if self.where:
            text += f" WHERE {self.where}"
        return text

    @property
    def lead(self) -> str:
        return norm_key(strip_direction(self.keys[0])) if self.keys else ""

    def key_norms(self) -> tuple[str, ...]:
        return tuple(norm_key(k) for k in self.keys)

    def extended(self, key: str) -> "IndexDef":
        return IndexDef(self.table, self.keys + (key,), self.schema, self.where,
                        tuple(c for c in self.include if norm_key(c) != norm_key(key)), self.unique, self.using)

    def as_dict(self) -> dict:
        return {"table": self.table, "columns": list(self.keys), "where": self.where,
                "include": list(self.include), "unique": self.unique}


def strip_direction(key: str) -> str:
    return key[:-5] if key.upper().endswith(" DESC") else key


# ---------------------------------------------------------------------------------------------
# Reading a query


@dataclass
class TableAccess:
    """One occurrence of a table in a query, and everything the query asks of it."""

    schema: str | None
    table: str
    alias: str
    uses: list[ColumnUse] = field(default_factory=list)  # AND-level conditions (WHERE and JOIN ON)
    sort: list[tuple[str, str]] | None = None  # ORDER BY, when every key is this table's
    group: list[str] | None = None
    referenced: set[str] | None = field(default_factory=set)  # None: every column (`*`)
    # referenced only in WHERE / JOIN ON: an index-only scan of a partial index whose predicate
    # implies those conditions does not need them
    condition_only: set[str] = field(default_factory=set)
    limit: bool = False
    ambiguous: bool = False  # several tables in scope: unqualified names need the catalog
    write_target: bool = False


@dataclass
class QueryShape:
    verb: str
    accesses: list[TableAccess]
    set_columns: set[str] = field(default_factory=set)  # UPDATE ... SET columns
    has_or: bool = False
    has_like: bool = False

    def tables(self) -> set[tuple[str | None, str]]:
        return {(a.schema, a.table) for a in self.accesses}


class _Collect(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.statements: list[ast.Node] = []
        self.ctes: set[str] = set()

    def visit(self, ancestors, node):  # noqa: D401 - pglast's visitor protocol
        if isinstance(node, (ast.SelectStmt, ast.UpdateStmt, ast.DeleteStmt, ast.InsertStmt)):
            self.statements.append(node)
        elif isinstance(node, ast.CommonTableExpr):
            self.ctes.add(node.ctename)
        return None


def read_query(sql: str) -> QueryShape:
    """The tables a statement reads and what it asks of each. Raises InputError if unparsable."""
    try:
        stmts = parse_sql(sql)
    except Exception as exc:  # pglast's ParseError
        raise InputError(f"cannot parse the SQL: {exc}") from None
    if len(stmts) != 1:
        raise InputError(f"expected one statement, got {len(stmts)}")
    root = stmts[0].stmt
    if isinstance(root, ast.ExplainStmt):
        root = root.query
    collect = _Collect()
    collect(root)
    verb = type(root).__name__.removesuffix("Stmt").upper()
    shape = QueryShape(verb=verb, accesses=[])
    for node in collect.statements:
        _read_statement(node, collect.ctes, shape)
    return shape


def _render(node) -> str | None:
    try:
        return RawStream()(node)
    except Exception:  # a node RawStream cannot print: that condition proposes nothing
        return None


def _scope(items: Iterable, ctes: set[str]) -> tuple[list[tuple[str | None, str, str]], list]:
    tables: list[tuple[str | None, str, str]] = []
    quals: list = []
    stack = list(items or ())
    while stack:
        item = stack.pop(0)
        if isinstance(item, ast.RangeVar):
            if item.schemaname is None and item.relname in ctes:
                continue
            alias = item.alias.aliasname if item.alias else item.relname
            tables.append((item.schemaname, item.relname, alias))
        elif isinstance(item, ast.JoinExpr):
            stack[0:0] = [item.larg, item.rarg]
            if item.quals is not None:
                quals.append(item.quals)
    return tables, quals


def _read_statement(node, ctes: set[str], shape: QueryShape) -> None:
    sort_clause = group_clause = None
    limit = False
    target = None
    if isinstance(node, ast.SelectStmt):
        if node.op is not None and SetOperation(node.op) != SetOperation.SETOP_NONE:
            return  # its arms are statements of their own
        tables, quals = _scope(node.fromClause, ctes)
        where = node.whereClause
        sort_clause, group_clause = node.sortClause, node.groupClause
        limit = node.limitCount is not None
    elif isinstance(node, ast.UpdateStmt):
        tables, quals = _scope([node.relation, *(node.fromClause or ())], ctes)
        where = node.whereClause
        target = node.relation
        for res in node.targetList or ():
            if isinstance(res, ast.ResTarget) and res.name:
                shape.set_columns.add(res.name)
    elif isinstance(node, ast.DeleteStmt):
        tables, quals = _scope([node.relation, *(node.usingClause or ())], ctes)
        where = node.whereClause
        target = node.relation
    elif isinstance(node, ast.InsertStmt):
        rel = node.relation
        alias = rel.alias.aliasname if rel.alias else rel.relname
        shape.accesses.append(TableAccess(rel.schemaname, rel.relname, alias, referenced=None, write_target=True))
        return
    else:
        return
    if not tables:
        return
    texts = [t for t in (_render(q) for q in [where, *quals] if q is not None) if t]
    sort_texts = [t for t in (_render(s) for s in sort_clause or ()) if t]
    group_texts = [t for t in (_render(g) for g in group_clause or ()) if t]
    refs = column_refs(node)
    cond_refs = [r for q in [where, *quals] if q is not None for r in column_refs(q)]
    ambiguous = len(tables) > 1
    for schema, table, alias in tables:
        access = TableAccess(schema, table, alias, limit=limit, ambiguous=ambiguous)
        if target is not None and target.relname == table and (target.alias is None or
                                                              target.alias.aliasname == alias):
            access.write_target = True
        for text in texts:
            uses = parse_condition(text, alias=alias, relation=table)
            shape.has_or |= any(u.in_or for u in uses)
            shape.has_like |= any(u.role == LIKE for u in uses)
            access.uses.extend(uses)
        if sort_texts:
            keys = sort_keys(sort_texts, alias=alias, relation=table)
            access.sort = keys if len(keys) == len(sort_texts) else None
        if group_texts:
            keys = sort_keys(group_texts, alias=alias, relation=table)
            access.group = [k for k, _ in keys] if len(keys) == len(group_texts) else None
        access.referenced = _referenced(refs, alias, table, ambiguous)
        if access.referenced:
            outside = _referenced(_without(refs, cond_refs), alias, table, ambiguous)
            access.condition_only = access.referenced - (outside if outside is not None else access.referenced)
        if access.write_target:
            access.referenced = None  # a write touches the heap anyway: no index-only scan
        shape.accesses.append(access)


def column_refs(node) -> list[tuple[str | None, str | None]]:
    """(qualifier, column) of every column reference; column None for `*` / whole-row."""
    found: list[tuple[str | None, str | None]] = []

    class V(Visitor):
        def visit(self, ancestors, n):  # noqa: D401
            if isinstance(n, ast.ColumnRef):
                fields = list(n.fields)
                last = fields[-1]
                qual = fields[-2].sval if len(fields) >= 2 and isinstance(fields[-2], ast.String) else None
                if isinstance(last, ast.A_Star):
                    found.append((qual, None))
                elif isinstance(last, ast.String):
                    found.append((qual, last.sval))
            return None

    V()(node)
    return found


def _without(refs: list, some: list) -> list:
    """`refs` minus one occurrence of each of `some` (a multiset difference)."""
    rest = list(refs)
    for r in some:
        if r in rest:
            rest.remove(r)
    return rest


def _referenced(refs, alias: str, table: str, ambiguous: bool) -> set[str] | None:
    out: set[str] = set()
    for qual, col in refs:
        mine = qual in (alias, table) or (qual is None and col != alias)
        if qual is None and col in (alias, table):
            return None  # a whole-row reference: `row_to_json(t0)`
        if not mine:
            continue
        if col is None:
            if qual is not None or not ambiguous:
                return None
            continue
        out.add(col)
    return out


# ---------------------------------------------------------------------------------------------
# From a query to candidates


@dataclass
class AccessKeys:
    """A table access sorted into the parts index keys are built from."""

    equality: list[str]  # eq, IN/ANY, join keys; in selectivity order
    nulls: list[str]  # IS [NOT] NULL columns (searchable by a btree, but better as predicates)
    booleans: list[str]
    ranges: list[str]
    sort: list[str]  # ORDER BY keys left after dropping the constant (equality) ones
    group: list[str]
    literal_predicates: list[tuple[str, str]]  # (column, SQL predicate) usable in a partial WHERE
    referenced: set[str] | None

    def indexable(self) -> list[str]:
        out: list[str] = []
        for k in [*self.equality, *self.ranges, *[strip_direction(s) for s in self.sort], *self.group,
                  *self.nulls, *self.booleans]:
            if k not in out:
                out.append(k)
        return out


def is_literal(value: str | None) -> bool:
    return bool(value) and bool(_LITERAL.match(value.strip()))


def _owned(use: ColumnUse, access: TableAccess, info: TableInfo) -> bool:
    if not access.ambiguous or use.qualifier is not None:
        return use.expression or use.column in info.columns
    if not use.expression:
        return use.column in info.columns
    names = names_in(use.column)
    return bool(names) and names <= set(info.columns)


def names_in(expr: str, *, predicate: bool = False) -> set[str]:
    """Column names an expression (or, with `predicate`, a WHERE condition) mentions."""
    try:
        stmt = parse_sql(f"SELECT 1 WHERE {expr}" if predicate else f"SELECT {expr}")[0].stmt
    except Exception:  # pglast's ParseError: no names we can vouch for
        return set()
    return {c for _, c in column_refs(stmt) if c}


def _predicate(use: ColumnUse) -> str | None:
    col = quote_ident(use.column)
    if use.role == IS_NULL:
        return f"{col} IS NULL"
    if use.role == IS_NOT_NULL:
        return f"{col} IS NOT NULL"
    if use.role == BOOLEAN:
        return col if use.value != "false" else f"NOT {col}"
    if use.role == EQUALITY and is_literal(use.value):
        return f"{col} = {use.value}"
    return None


def _is_join_value(value: str | None) -> bool:
    """The other side is a column of another relation: `c0.ticket_id`."""
    return bool(value) and bool(_OTHER_COLUMN.match(value.strip()))


def access_keys(access: TableAccess, info: TableInfo) -> AccessKeys:
    eq: list[str] = []
    joins: list[str] = []
    ins: list[str] = []
    nulls: list[str] = []
    bools: list[str] = []
    ranges: list[str] = []
    literal: list[tuple[str, str]] = []
    for use in access.uses:
        if use.in_or or not _owned(use, access, info):
            continue
        if use.role == EQUALITY and _is_join_value(use.value):
            bucket = joins
        elif use.role == EQUALITY:
            bucket = eq
        elif use.role == IN:
            bucket = ins
        elif use.role in (IS_NULL, IS_NOT_NULL):
            bucket = nulls
        elif use.role == BOOLEAN:
            bucket = bools
        elif use.role == RANGE:
            bucket = ranges
        else:
            continue
        if use.column not in bucket:
            bucket.append(use.column)
        if not use.expression:
            pred = _predicate(use)
            if pred and (use.column, pred) not in literal:
                literal.append((use.column, pred))
    # A join key is an equality only when this table is the inner side of a nested loop, so the
    # query's own values lead.
    equality = _by_selectivity(eq, info)
    equality += [c for c in _by_selectivity(ins, info) if c not in equality]
    equality += [c for c in _by_selectivity(joins, info) if c not in equality]
    ranges = [c for c in ranges if c not in equality]
    constant = set(equality) | set(nulls) | set(bools)
    sort: list[str] = []
    if access.sort:
        own = [(k, d) for k, d in access.sort if k not in constant]
        owned = all(_owned(ColumnUse(k, EQUALITY, expression=not is_column_name(k)), access, info)
                    for k, _ in own)
        if own and owned:
            directions = {d for _, d in own}
            mixed = len(directions) > 1
            sort = [f"{k} DESC" if mixed and d == "desc" else k for k, d in own]
    group = [g for g in (access.group or []) if g not in constant]
    if group and not all(_owned(ColumnUse(g, EQUALITY, expression=not is_column_name(g)), access, info)
                         for g in group):
        group = []
    return AccessKeys(equality, nulls, bools, ranges, sort, group, literal, access.referenced)


def _by_selectivity(cols: list[str], info: TableInfo) -> list[str]:
    """Most distinct first: that column narrows most, and leads an index other queries can share."""
    def distinct(c: str) -> float:
        col = info.columns.get(c)
        return col.n_distinct if col and col.n_distinct is not None else -1.0
    return sorted(cols, key=lambda c: -distinct(c))


def _dedupe(keys: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    for k in keys:
        n = norm_key(strip_direction(k))
        if n not in seen:
            seen.add(n)
            out.append(k)
    return tuple(out[:MAX_KEYS])


def expected_rows(keys: "AccessKeys", info: TableInfo, planned: float | None) -> float | None:
    """Rows per call the query reads from the table: the planner's estimate, except that a
    function of a column has no statistics until its index exists (the planner then guesses
    0.5 % of the table), where the column's own distinct count is the better guess."""
    rows = planned
    for key in keys.equality:
        if is_column_name(key):
            continue
        names = names_in(key)
        col = info.columns.get(next(iter(names))) if len(names) == 1 else None
        if col is not None and col.n_distinct:
            guess = info.tuples / col.n_distinct
            rows = guess if rows is None else min(rows, guess)
    return rows


def generate(access: TableAccess, info: TableInfo, rows: float | None = None) -> list[IndexDef]:
    """Candidates for one table access; none for tiny tables, views, or nothing to index.
    `rows`: what the query reads from the table per call, as planned today."""
    if info.kind not in ("r", "m") or info.pages <= TINY_PAGES or access.write_target and not access.uses:
        return []
    k = access_keys(access, info)
    E, S, R, G = k.equality, k.sort, k.ranges, k.group
    key_lists: list[list[str]] = []

    def add(*parts: list[str]) -> None:
        keys = [x for p in parts for x in p]
        if keys:
            key_lists.append(keys)

    r1 = R[:1]
    add(E)
    add(E, S)
    add(E, r1)
    add(E, S, r1)  # ESR: the index delivers the order and stops at LIMIT
    add(E, r1, S)  # ERS: scans fewer entries, then sorts
    add(E, G)
    for r in R[1:]:
        add(E, [r])
    add(E, k.nulls)
    add(E, k.booleans)
    for col in [*E, *R, *S[:1], *G[:1]]:
        add([col])
    base = [_dedupe(keys) for keys in key_lists]

    schema = info.schema
    table = info.name
    out: list[IndexDef] = []

    def emit(keys: tuple[str, ...], where: str | None = None, include: tuple[str, ...] = ()) -> None:
        if not keys:
            return
        cand = IndexDef(table, keys, schema, where, include)
        if cand not in out:
            out.append(cand)

    for keys in base:
        emit(keys)

    # Partial variants: literal predicates move from the key into the WHERE.
    partial_sets = []
    if k.literal_predicates:
        partial_sets.append(k.literal_predicates)
        nulls_only = [p for p in k.literal_predicates if p[1].endswith("NULL")]
        if nulls_only and len(nulls_only) < len(k.literal_predicates):
            partial_sets.append(nulls_only)
    partial_keys: list[tuple[tuple[str, ...], str]] = []
    for preds in partial_sets:
        moved = {c for c, _ in preds}
        where = " AND ".join(sorted(p for _, p in preds))
        e = [c for c in E if c not in moved]
        variants = [_dedupe(v) for v in (e, e + S, e + r1, e + S + r1, e + r1 + S, e + G)]
        variants = [v for v in variants if v]
        if not variants:
            lead = [c for c, _ in preds][0]
            variants = [(lead,)]
        for v in variants:
            emit(v, where)
            partial_keys.append((v, where))

    # Covering variants: the rest of a narrow select goes into INCLUDE.
    reads = expected_rows(k, info, rows)
    if k.referenced is not None and (reads is None or reads >= COVERING_MIN_ROWS):
        implied = {c for c, _ in k.literal_predicates} & access.condition_only
        for keys, where in [(b, None) for b in base[:6]] + partial_keys[:4]:
            in_key = {norm_key(strip_direction(x)) for x in keys}
            skip = implied if where else set()
            rest = sorted(c for c in k.referenced
                          if norm_key(c) not in in_key and c in info.columns and c not in skip)
            if not rest or len(rest) > MAX_INCLUDE:
                continue
            if any(_wide(info, c) for c in rest):
                continue
            emit(keys, where, tuple(rest))
    return [c for c in out if not covered_by_existing(c, info)][:MAX_PER_ACCESS]


def _wide(info: TableInfo, column: str) -> bool:
    col = info.columns[column]
    if col.avg_width is not None:
        return col.avg_width > MAX_INCLUDE_WIDTH
    return col.fixed_width < 0 or col.fixed_width > MAX_INCLUDE_WIDTH


def covered_by_existing(cand: IndexDef, info: TableInfo) -> bool:
    """An existing valid btree already has these keys as its prefix, the same predicate and the
    payload: a hypothetical copy could only look better than it (HypoPG's bias), never be better."""
    keys = cand.key_norms()
    for ix in info.indexes:
        if ix.method != cand.using or not ix.valid:
            continue
        if (norm_key(ix.where) if ix.where else None) != (norm_key(cand.where) if cand.where else None):
            continue
        existing = tuple(norm_key(k) for k in ix.keys)
        if existing[:len(keys)] != keys:
            continue
        carried = set(existing) | {norm_key(c) for c in ix.include}
        if {norm_key(c) for c in cand.include} <= carried:
            return True
    return False


def redundant_existing(rec: IndexDef, info: TableInfo) -> list[str]:
    """Existing plain indexes whose keys are a prefix of `rec`'s, with the same predicate:
    once `rec` exists they only cost writes."""
    keys = rec.key_norms()
    out = []
    for ix in info.indexes:
        if not ix.plain or ix.include:
            continue
        if (norm_key(ix.where) if ix.where else None) != (norm_key(rec.where) if rec.where else None):
            continue
        existing = tuple(norm_key(k) for k in ix.keys)
        if len(existing) <= len(keys) and keys[:len(existing)] == existing:
            out.append(ix.name)
    return out
