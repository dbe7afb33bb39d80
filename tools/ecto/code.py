"""Reading an Ecto app's Elixir code: functions, loops, Repo calls and preloads.

This is what the N+1 judgement rests on (in eval checks now, in the static scanner later):
a Repo call is an N+1 when it runs once per element of a collection, that is inside the body
of an Enum/Stream iteration or a `for` comprehension, directly or through a function of the
same module called from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from tools.ecto.elixir import Call, as_call, def_body, iter_calls, line, parse, text
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

    def named(self, name: str) -> list[Function]:
        return [f for f in self.functions if f.name == name]


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
    return Module(path, functions)


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


def code_markers(function: Function) -> set[str]:
    """What a function's code is made of, as markers a check can require or forbid:
    `call:NAME` (last segment and full name), `kw:KEY` (keyword options such as offset: or
    preload:), `op:OP` (binary operators), `atom:NAME`, and `pin-compare` (a comparison against
    a ^pinned value: the shape of a keyset condition)."""
    from tools.ecto.elixir import keywords

    markers: set[str] = set()
    for root in function.body:
        for call in iter_calls(root):
            markers.add(f"call:{call.function}")
            markers.add(f"call:{call.name}")
        stack = [root]
        while stack:
            node = stack.pop()
            stack.extend(node.named_children)
            if node.type == "keywords":
                markers.update(f"kw:{key}" for key, _ in keywords(node))
            elif node.type == "binary_operator":
                op = text(node.child_by_field_name("operator"))
                markers.add(f"op:{op}")
                if op in _COMPARISONS and "^" in text(node):
                    markers.add("pin-compare")
            elif node.type == "atom":
                markers.add(f"atom:{text(node).lstrip(':')}")
    return markers
