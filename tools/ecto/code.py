"""Reading an Ecto app's Elixir code: functions, loops, Repo calls and preloads.

This is what the N+1 judgement rests on (in eval checks now, in the static scanner later):
a Repo call is an N+1 when it runs once per element of a collection, that is inside the body
of an Enum/Stream iteration or a `for` comprehension, directly or through a function of the
same module called from there.

It is also what the eval check `code_shape` reads: `code_markers` says what a function is made
of (calls, keyword options, operators, atoms, field accesses, SQL in fragments), and
`function_markers` adds the local functions it reaches and the module attributes they read,
so a fix that moves the query into a private helper or a field list into `@fields` is judged
by what the code does, not by where it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tree_sitter import Node

from tools.ecto.elixir import Call, as_call, def_body, iter_calls, keywords, line, named_children, parse, text
from tools.errors import InputError

# Repo functions that query the database once per call.
QUERY_FUNCTIONS = {
    "get", "get!", "get_by", "get_by!", "one", "one!", "all", "preload", "aggregate", "exists?",
    "insert", "insert!", "update", "update!", "delete", "delete!", "reload", "reload!", "stream",
    "update_all", "delete_all", "insert_all", "query", "query!",
}
# Iterations whose function argument runs once per element.
LOOP_MODULES = {"Enum", "Stream", "Task"}
LOOP_FUNCTIONS = {
    "map", "each", "flat_map", "reduce", "reduce_while", "filter", "reject", "map_reduce", "into",
    "group_by", "sort_by", "find", "find_value", "any?", "all?", "count", "sum_by", "uniq_by",
    "with_index", "zip_with", "async_stream", "frequencies_by", "min_by", "max_by", "split_with",
}


@dataclass
class RepoCall:
    line: int
    name: str  # "Repo.get", "MyApp.Repo.preload"
    function: str  # "get"
    loop: str | None = None  # "Enum.map", "for"
    loop_line: int | None = None
    via: str | None = None  # the local function the loop calls that makes the query


@dataclass
class Function:
    name: str
    arity: int
    line: int
    end_line: int
    node: Node
    body: list[Node] = field(default_factory=list)


@dataclass
class Module:
    path: str
    functions: list[Function]
    # Module attributes set in the file (`@page_size 50`), in source order: (name, line, value).
    attributes: list[tuple[str, int, Node]] = field(default_factory=list)

    def named(self, name: str) -> list[Function]:
        return [f for f in self.functions if f.name == name]

    def attribute(self, name: str, at_line: int) -> Node | None:
        """The value `@name` has for code at `at_line`: the last one set above it, since an
        attribute may be set again further down and a read sees the value of its position."""
        found = None
        for attr, set_at, node in self.attributes:
            if attr == name and set_at < at_line:
                found = node
        return found


def is_repo_call(call: Call) -> bool:
    if call.function not in QUERY_FUNCTIONS or call.receiver is None:
        return False
    receiver = text(call.receiver)
    return receiver == "Repo" or receiver.endswith(".Repo") or receiver in ("repo()", "repo")


def read_module(path: str | Path) -> Module:
    path = Path(path)
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return parse_module(source, str(path))


def parse_module(source: str | bytes, path: str = "<source>") -> Module:
    tree = parse(source)
    functions: list[Function] = []
    for call in iter_calls(tree.root_node):
        if call.name not in ("def", "defp") or not call.args:
            continue
        head = call.args[0]
        if head.type == "binary_operator" and head.child_by_field_name("operator").type == "when":
            head = head.child_by_field_name("left")
        head_call = as_call(head)
        if head_call is not None:
            name, arity = head_call.name, len(head_call.args)
        else:
            name, arity = text(head), 0
        functions.append(Function(name, arity, line(call.node), call.node.end_point[0] + 1, call.node,
                                  def_body(call)))
    return Module(path, functions, _attributes(tree.root_node))


def _attributes(root: Node) -> list[tuple[str, int, Node]]:
    found = []
    for node in _walk([root]):
        if node.type == "unary_operator" and _operator(node) == "@":
            # `@name value` sets; a bare `@name` (an identifier operand) reads.
            call = as_call(node.child_by_field_name("operand"))
            if call is not None and call.receiver is None and len(call.args) == 1:
                found.append((call.name, line(node), call.args[0]))
    found.sort(key=lambda a: a[1])
    return found


def _loop_name(call: Call) -> str | None:
    if call.name == "for":
        return "for"
    if call.receiver is not None and text(call.receiver) in LOOP_MODULES and call.function in LOOP_FUNCTIONS:
        return call.name
    return None


def _loop_bodies(call: Call) -> list[Node]:
    """The parts of a loop call that run per element: fn arguments and do-blocks."""
    if call.name == "for":
        return [call.do_block] if call.do_block is not None else list(call.args[-1:])
    # In a pipe the collection is args[0]; the per-element code is any fn or capture after it.
    return [a for a in call.args[1:] if a.type in ("anonymous_function", "unary_operator", "identifier")] or \
        [a for a in call.args if a.type == "anonymous_function"]


def repo_calls(nodes: list[Node]) -> list[RepoCall]:
    found = []
    for node in nodes:
        for call in iter_calls(node):
            if is_repo_call(call):
                found.append(RepoCall(line(call.node), call.name, call.function))
    return found


def repo_calls_in_loops(function: Function, module: Module | None = None) -> list[RepoCall]:
    """Repo calls that run once per element in `function`; through local functions one call deep."""
    local = {f.name: f for f in (module.functions if module else [])}
    findings: list[RepoCall] = []
    for node in function.body:
        for call in iter_calls(node):
            loop = _loop_name(call)
            if loop is None:
                continue
            for part in _loop_bodies(call):
                for inner in iter_calls(part):
                    if is_repo_call(inner):
                        findings.append(RepoCall(line(inner.node), inner.name, inner.function, loop,
                                                 line(call.node)))
                    elif inner.receiver is None and inner.name in local and inner.name != function.name:
                        for deep in repo_calls(local[inner.name].body):
                            findings.append(RepoCall(deep.line, deep.name, deep.function, loop,
                                                     line(call.node), via=inner.name))
                if part.type == "unary_operator" and text(part).startswith("&"):
                    # A capture `&load_author/1` runs the named function per element.
                    target = text(part).lstrip("&").split("/")[0].strip()
                    if target in local:
                        for deep in repo_calls(local[target].body):
                            findings.append(RepoCall(deep.line, deep.name, deep.function, loop,
                                                     line(call.node), via=target))
    unique = {(f.line, f.name): f for f in findings}
    return sorted(unique.values(), key=lambda f: f.line)


_COMPARISONS = {"<", ">", "<=", ">="}
# Anti-join and NOT IN shapes written as SQL inside fragment("..."), where the syntax tree ends.
_SQL_MARKERS = {
    "sql:not exists": re.compile(r"\bnot\s+exists\b", re.I),
    "sql:not in": re.compile(r"\bnot\s+in\b", re.I),
    "sql:left join": re.compile(r"\bleft\s+(outer\s+)?join\b", re.I),
}


def _walk(nodes: list[Node]) -> Iterator[Node]:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.named_children)


def _operator(node: Node) -> str | None:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else None


def is_field_access(call: Call) -> bool:
    """`a.body`, `&1.id`, `parent_as(:c).id`: a dot with no parentheses on something that is not a
    module is a map or struct field read, not a function call."""
    if call.receiver is None or call.node.type != "call" or call.args or call.do_block is not None:
        return False
    if any(child.type == "arguments" for child in call.node.children):
        return False
    return call.receiver.type != "alias" and text(call.receiver) != "__MODULE__"


def code_markers(function: Function, module: Module | None = None) -> set[str]:
    """What a function's code is made of, as markers a check can require or forbid:

    - `call:NAME`: a call, by its last segment and its full name (`call:all`, `call:Repo.all`);
    - `field:NAME`: a field access `a.body` (not a call: `a.body` gives `field:body`, no `call:body`);
    - `kw:KEY`: a keyword option or map key (`offset:`, `preload:`, `%{title: ...}`);
    - `op:OP`: a binary operator (`op:in`, `op:>`, `op:not in`, which `not (a in b)` also gives);
    - `atom:NAME`: an atom, including the words of `~w(id title)a`;
    - `pin-compare`: a comparison against a ^pinned value (the shape of a keyset condition);
    - `pin-in`: `x in ^list` (the shape of a batched lookup; `op:in` cannot tell it from the
      `o in Order` binding every `from` has);
    - `sql:not exists`, `sql:not in`, `sql:left join`: SQL written in fragment("...").

    With `module`, the values of the module attributes the function reads count as its code."""
    roots = list(function.body)
    if module is not None:
        for name in sorted(_attribute_reads(function.body)):
            value_node = module.attribute(name, function.line)
            if value_node is not None:
                roots.append(value_node)
    markers: set[str] = set()
    for root in roots:
        for call in iter_calls(root):
            if is_field_access(call):
                markers.add(f"field:{call.function}")
                continue
            markers.add(f"call:{call.function}")
            markers.add(f"call:{call.name}")
            if call.function == "fragment" and call.args:
                markers |= _fragment_markers(call.args[0])
    for node in _walk(roots):
        if node.type == "keywords":
            markers.update(f"kw:{key}" for key, _ in keywords(node))
        elif node.type == "binary_operator":
            op = _operator(node)
            markers.add(f"op:{op}")
            if op in _COMPARISONS and "^" in text(node):
                markers.add("pin-compare")
            right = node.child_by_field_name("right")
            if op == "in" and right is not None and right.type == "unary_operator" and _operator(right) == "^":
                markers.add("pin-in")
        elif node.type == "atom":
            markers.add(f"atom:{text(node).lstrip(':')}")
        elif node.type == "sigil":
            markers |= _sigil_atoms(node)
        elif node.type == "unary_operator" and _operator(node) in ("not", "!") and _negates_in(node):
            markers.add("op:not in")
    return markers


def _attribute_reads(nodes: list[Node]) -> set[str]:
    reads = set()
    for node in _walk(nodes):
        if node.type == "unary_operator" and _operator(node) == "@":
            operand = node.child_by_field_name("operand")
            if operand is not None and operand.type == "identifier":
                reads.add(text(operand))
    return reads


def _sigil_atoms(node: Node) -> set[str]:
    parts = {c.type: text(c) for c in node.children if c.type in ("sigil_name", "sigil_modifiers", "quoted_content")}
    if parts.get("sigil_name") in ("w", "W") and "a" in parts.get("sigil_modifiers", ""):
        return {f"atom:{word}" for word in parts.get("quoted_content", "").split()}
    return set()


def _negates_in(node: Node) -> bool:
    operand = node.child_by_field_name("operand")
    while operand is not None and operand.type == "block":
        inner = named_children(operand)
        operand = inner[0] if len(inner) == 1 else None
    return operand is not None and operand.type == "binary_operator" and _operator(operand) == "in"


def _fragment_markers(node: Node) -> set[str]:
    from tools.ecto.elixir import value

    sql = value(node)
    if not isinstance(sql, str):
        return set()
    return {marker for marker, pattern in _SQL_MARKERS.items() if pattern.search(sql)}


def local_callees(function: Function, module: Module) -> set[str]:
    """Names of the module's functions that `function` calls, pipes into or captures."""
    names = {f.name for f in module.functions}
    called: set[str] = set()
    for root in function.body:
        for call in iter_calls(root):
            if call.receiver is None and call.name in names:
                called.add(call.name)
            elif call.receiver is not None and text(call.receiver) == "__MODULE__" and call.function in names:
                called.add(call.function)
    for node in _walk(function.body):
        # `&helper/1`; `&helper(&1, x)` and `&__MODULE__.helper/1` are calls and were seen above.
        if node.type == "unary_operator" and _operator(node) == "&":
            operand = node.child_by_field_name("operand")
            if operand is not None and operand.type == "binary_operator" and _operator(operand) == "/":
                target = operand.child_by_field_name("left")
                if target is not None and target.type == "identifier" and text(target) in names:
                    called.add(text(target))
    return called


def reachable(module: Module, name: str, *, transitive: bool = True) -> list[Function]:
    """The clauses of `name` and of every local function reachable from them (all clauses and
    arities of a name: which one runs is known only at run time). Without `transitive`, only the
    functions `name` calls directly."""
    start = module.named(name)
    seen, result, frontier = {name}, list(start), list(start)
    while frontier:
        found = []
        for function in frontier:
            for callee in sorted(local_callees(function, module) - seen):
                seen.add(callee)
                found.extend(module.named(callee))
        result.extend(found)
        frontier = found if transitive else []
    return result


def function_markers(module: Module, name: str, *, follow_local: bool = True) -> tuple[set[str], list[Function]]:
    """`code_markers` of a function with the module attributes it reads, and with `follow_local`
    of every local function it reaches; also returns the functions read."""
    functions = reachable(module, name) if follow_local else module.named(name)
    markers: set[str] = set()
    for function in functions:
        markers |= code_markers(function, module)
    return markers, functions


# ---- settings the code applies -------------------------------------------------------------------

QUERY_CALLS = {"query", "query!"}


def transaction_settings(functions: list[Function]) -> tuple[dict[str, str], list[str]]:
    """Settings the code applies to its own transaction before querying: `SET LOCAL k = 'v'` or
    `SELECT set_config('k', 'v', true)` run through a query call (Repo.query!, SQL.query) inside a
    `transaction` call. A session-wide SET on a pooled connection is reported and not used: it
    outlives the request and leaks into every later checkout of that connection."""
    from tools.ecto.elixir import value

    settings: dict[str, str] = {}
    notes: list[str] = []
    for function in functions:
        for root in function.body:
            for outer in iter_calls(root):
                if outer.function != "transaction":
                    continue
                for call in iter_calls(outer.node):
                    if call.function not in QUERY_CALLS:
                        continue
                    for arg in call.args:
                        sql = value(arg)
                        if isinstance(sql, str):
                            for key, val, local in sql_settings(sql):
                                if local:
                                    settings[key] = val
                                else:
                                    notes.append(f"session-wide {key} = {val!r} ignored: it outlives the transaction")
    return settings, notes


def sql_settings(sql: str) -> list[tuple[str, str, bool]]:
    """(name, value, local) for each `SET [LOCAL] name = value` and `set_config(name, value, is_local)`
    with literal arguments in the SQL; nothing when it does not parse."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    try:
        statements = parse_sql(sql)
    except ParseError:
        return []
    found = []
    for raw in statements:
        stmt = raw.stmt
        if isinstance(stmt, ast.VariableSetStmt) and stmt.name and stmt.args and len(stmt.args) == 1:
            val = _const(stmt.args[0])
            if val is not None:
                found.append((stmt.name.lower(), val, bool(stmt.is_local)))
            continue
        for node in _sql_nodes(stmt):
            if isinstance(node, ast.FuncCall) and node.funcname[-1].sval.lower() == "set_config" and \
                    len(node.args or ()) == 3:
                name, val, local = (_const(a) for a in node.args)
                if name is not None and val is not None and local in ("true", "false"):
                    found.append((name.lower(), val, local == "true"))
    return found


def _sql_nodes(node) -> Iterator:
    from pglast import ast

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):
            stack.extend(current)
        elif isinstance(current, ast.Node):
            yield current
            stack.extend(getattr(current, attr) for attr in current)


def _const(node) -> str | None:
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.A_Const) or node.isnull:
        return None
    val = node.val
    for attr in ("sval", "ival", "fval", "boolval"):
        if hasattr(val, attr):
            got = getattr(val, attr)
            return str(got).lower() if attr == "boolval" else str(got)
    return None
