"""Decide what we may do with a statement before it gets anywhere near a user's database.

PostgreSQL's own parser (pglast) tells reads from writes; a regular expression would be fooled
by a data-modifying CTE, a comment or a string literal that contains a keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor

from tools.errors import InputError


class Kind(str, Enum):
    READ = "read"  # SELECT / VALUES / TABLE: EXPLAIN ANALYZE in a READ ONLY transaction
    WRITE = "write"  # INSERT / UPDATE / DELETE / MERGE, SELECT ... FOR UPDATE, writing CTEs


@dataclass(frozen=True)
class Statement:
    sql: str  # the statement to explain, without a trailing semicolon or a user-typed EXPLAIN
    kind: Kind
    verb: str  # "SELECT", "UPDATE", ... for messages
    param_count: int  # highest $n referenced


_WRITE_NODES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
_VERBS = {ast.SelectStmt: "SELECT", ast.InsertStmt: "INSERT", ast.UpdateStmt: "UPDATE",
          ast.DeleteStmt: "DELETE", ast.MergeStmt: "MERGE"}


class _Scan(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.writes = False
        self.max_param = 0

    def visit(self, ancestors, node):  # noqa: D401 - pglast's visitor protocol
        if isinstance(node, _WRITE_NODES):
            self.writes = True
        elif isinstance(node, ast.SelectStmt) and node.lockingClause:
            self.writes = True  # row locks are writes: READ ONLY refuses them
        elif isinstance(node, ast.SelectStmt) and node.intoClause:
            self.writes = True
        elif isinstance(node, ast.ParamRef):
            self.max_param = max(self.max_param, node.number or 0)
        return None


def classify(sql: str) -> Statement:
    """Raises InputError for anything we will not explain: DDL, utility, several statements."""
    text = (sql or "").strip()
    if not text:
        raise InputError("no SQL given")
    try:
        stmts = parse_sql(text)
    except ParseError as exc:
        raise InputError(f"cannot parse the SQL: {exc}") from None
    if len(stmts) != 1:
        raise InputError(f"expected one statement, got {len(stmts)}: explain them one at a time")
    raw = stmts[0]
    node = raw.stmt
    if isinstance(node, ast.ExplainStmt):
        # Users paste `EXPLAIN ANALYZE SELECT ...`; we choose the options ourselves.
        node = node.query
        start = _inner_location(text, node)
        text = text[start:] if start is not None else text
    text = text.rstrip().rstrip(";").rstrip()
    verb = _VERBS.get(type(node))
    if verb is None:
        name = text.split(None, 1)[0].upper()
        raise InputError(f"refusing to explain {name}: only SELECT, INSERT, UPDATE, DELETE "
                         "and MERGE can be explained (DDL, utility and transaction control are not run)")
    if isinstance(node, ast.SelectStmt) and node.intoClause:
        raise InputError("refusing to explain SELECT ... INTO: it creates a table")
    scan = _Scan()
    scan(node)
    kind = Kind.WRITE if scan.writes else Kind.READ
    return Statement(sql=text, kind=kind, verb=verb, param_count=scan.max_param)


def _inner_location(text: str, node: ast.Node) -> int | None:
    """Where the explained query starts: the first query keyword after EXPLAIN's own options."""
    from pglast.parser import scan as lex

    tokens = lex(text)
    keywords = {"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE", "("}
    depth = 0
    for i, tok in enumerate(tokens):
        word = text[tok.start:tok.end + 1].upper()
        if i == 0:
            continue  # EXPLAIN
        if word == "(" and depth == 0 and i == 1:
            depth = 1  # the option list: EXPLAIN (ANALYZE, ...)
            continue
        if depth:
            if word == ")":
                depth = 0
            continue
        if word in keywords:
            return tok.start
    return None
