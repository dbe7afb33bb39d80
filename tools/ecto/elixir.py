"""A thin layer over tree-sitter-elixir: parse, walk calls, and read literals as Python values.

Elixir is never matched with regular expressions here: strings, heredocs, sigils, comments and
pipes make line patterns wrong in exactly the migrations a linter has to get right.

Value mapping: atoms -> `Atom` (a str), strings and ~s/~S sigils and heredocs -> str,
charlists -> `Charlist`, integers/floats -> int/float, true/false/nil -> True/False/None,
lists -> list (a keyword list is a list of `(Atom, value)` tuples, as in Elixir), tuples -> tuple,
maps -> dict. Anything whose value is only known at run time (calls, variables, interpolation,
unresolved `@attr` reads) -> `Expr`, which keeps the source text and, for calls, the call name
and argument values so that `fragment("now()")` stays recognisable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

import tree_sitter_elixir
from tree_sitter import Language, Node, Parser, Tree

from tools.errors import InputError

__all__ = [
    "Atom", "Call", "Charlist", "Expr", "as_call", "body", "def_body", "iter_calls", "keyword_get",
    "keywords", "line", "named_children", "parse", "split_do", "text", "value",
]


class Atom(str):
    """An Elixir atom. It is a str so `opts["type"] == "string"` reads naturally; where Ecto treats
    atoms and strings differently (index columns: atoms are quoted, strings are raw SQL) check
    `isinstance(x, Atom)`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + str.__str__(self)


class Charlist(str):
    """A single-quoted Elixir charlist ('abc' or ~c"abc"): a list of integers to Elixir."""

    __slots__ = ()


@dataclass(frozen=True)
class Expr:
    """An expression whose value is not a literal: its source text, and for calls the callee
    (`"fragment"`, `"Repo.update_all"`) with the values of its arguments."""

    text: str
    line: int
    call: str | None = None
    args: tuple = ()

    def is_call(self, name: str, arity: int | None = None) -> bool:
        return self.call == name and (arity is None or len(self.args) == arity)


@dataclass(frozen=True)
class Call:
    """A call seen through pipes: `x |> f(y)` is `f(x, y)`."""

    node: Node
    name: str  # "create", "Repo.update_all", "repo().update_all"
    function: str  # last segment: "update_all"
    receiver: Node | None  # the node left of the dot, if any
    args: tuple[Node, ...]  # positional arguments; a trailing keyword list is one `keywords` node
    do_block: Node | None


_COMMENT = "comment"


@lru_cache(maxsize=1)
def _language() -> Language:
    return Language(tree_sitter_elixir.language())


def parse(source: str | bytes) -> Tree:
    """Strict on purpose: a tree with error recovery in it would give a linter or a SQL translator
    a silently wrong migration, and the Elixir compiler would refuse the file anyway."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    tree = Parser(_language()).parse(data)
    if tree.root_node.has_error:
        raise InputError(f"cannot parse Elixir: {_describe_error(tree.root_node)}")
    return tree


def _describe_error(root: Node) -> str:
    for node in _walk(root, named_only=False):
        if node.is_missing:
            return f"syntax error at line {line(node)} (missing {node.type!r})"
        if node.is_error:
            # Recovery wraps everything it skipped; the last thing it swallowed is closest to the
            # actual mistake (an unterminated string, a stray token).
            inner = [c for c in node.named_children if c.type != _COMMENT]
            return f"syntax error at line {line(inner[-1] if inner else node)}"
    return "syntax error"


def line(node: Node) -> int:
    return node.start_point[0] + 1


def text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def named_children(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type != _COMMENT]


def _walk(node: Node, named_only: bool = True) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children = current.named_children if named_only else current.children
        stack.extend(reversed(children))


# ---- calls -------------------------------------------------------------------------------------

def _is_pipe(node: Node) -> bool:
    op = node.child_by_field_name("operator")
    return node.type == "binary_operator" and op is not None and op.type == "|>"


def as_call(node: Node) -> Call | None:
    """The call `node` is, desugaring pipes and unwrapping `( … )`; None for anything else."""
    if node.type == "block":
        inner = named_children(node)
        return as_call(inner[0]) if len(inner) == 1 else None
    if _is_pipe(node):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if right.type == "identifier":  # `x |> flush`
            return Call(node, text(right), text(right), None, (left,), None)
        inner = as_call(right)
        if inner is None:
            return None
        return Call(node, inner.name, inner.function, inner.receiver, (left, *inner.args),
                    inner.do_block)
    if node.type != "call":
        return None
    target = node.child_by_field_name("target")
    receiver = None
    if target.type == "dot":
        receiver, right = target.child_by_field_name("left"), target.child_by_field_name("right")
        function = text(right) if right is not None else ""
        name = f"{text(receiver)}.{function}"
    else:
        function = name = text(target)
    args: tuple[Node, ...] = ()
    do_block = None
    for child in node.named_children:
        if child.type == "arguments":
            args = tuple(named_children(child))
        elif child.type == "do_block":
            do_block = child
    return Call(node, name, function, receiver, args, do_block)


def iter_calls(node: Node) -> Iterator[Call]:
    """Every call in the subtree (pipes desugared), outermost first."""
    consumed: set[int] = set()
    for current in _walk(node):
        if _is_pipe(current):
            call = as_call(current)
            right = current.child_by_field_name("right")
            if call is not None:
                consumed.add(right.id)
                yield call
        elif current.type == "call" and current.id not in consumed:
            call = as_call(current)
            if call is not None:
                yield call


def body(node: Node | None) -> list[Node]:
    """The expressions of a do-block, `( … )` block, or fn clause body, in order."""
    if node is None:
        return []
    if node.type in ("do_block", "block", "body"):
        skip = {"else_block", "after_block", "rescue_block", "catch_block", _COMMENT}
        return [c for c in node.named_children if c.type not in skip]
    return [node]


def def_body(call: Call) -> list[Node]:
    """Body of `def f do … end` or `def f, do: …`."""
    return split_do(call)[1] or []


def split_do(call: Call) -> tuple[tuple[Node, ...], list[Node] | None]:
    """Arguments and block of `f x do … end` or `f x, do: …`; the block is None without one."""
    if call.do_block is not None:
        return call.args, body(call.do_block)
    if call.args and call.args[-1].type == "keywords":
        pairs = keywords(call.args[-1])
        if len(pairs) == 1 and pairs[0][0] == "do":
            return call.args[:-1], body(pairs[0][1])
    return call.args, None


def keywords(node: Node) -> list[tuple[str, Node]]:
    """The (key, value node) pairs of a `keywords` node (`a: 1, b: 2` without brackets)."""
    pairs = []
    for pair in named_children(node):
        key, val = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if key.type == "quoted_keyword":
            name = _quoted(key, escapes=True)
            name = text(key).rstrip()[:-1] if name is None else name
        else:
            name = text(key).strip()[:-1]  # "primary_key: " -> "primary_key"
        pairs.append((name, val))
    return pairs


def keyword_get(node: Node | None, key: str) -> Node | None:
    """The value node for `key` in a `keywords` node, if present."""
    if node is None or node.type != "keywords":
        return None
    for name, val in keywords(node):
        if name == key:
            return val
    return None


# ---- literals ----------------------------------------------------------------------------------

Hook = Callable[[Call], Any]


def value(node: Node, attrs: dict[str, Any] | None = None, hook: Hook | None = None) -> Any:
    """The Python value of a literal node. `attrs` resolves `@name` reads; `hook` may interpret a
    call (return non-None) before it falls back to an `Expr`."""
    kind = node.type
    raw = text(node)
    if kind == "integer":
        return _integer(raw)
    if kind == "float":
        return float(raw.replace("_", ""))
    if kind == "boolean":
        return raw == "true"
    if kind == "nil":
        return None
    if kind == "atom":
        return Atom(raw[1:])
    if kind == "quoted_atom":
        content = _quoted(node, escapes=True)
        return Expr(raw, line(node)) if content is None else Atom(content)
    if kind == "char":
        return _char(raw)
    if kind == "string":
        content = _quoted(node, escapes=True)
        return Expr(raw, line(node)) if content is None else content
    if kind == "charlist":
        content = _quoted(node, escapes=True)
        return Expr(raw, line(node)) if content is None else Charlist(content)
    if kind == "sigil":
        return _sigil(node)
    if kind == "list":
        items: list[Any] = []
        for child in named_children(node):
            if child.type == "keywords":
                items.extend(value(child, attrs, hook))
            else:
                items.append(value(child, attrs, hook))
        return items
    if kind == "keywords":
        return [(Atom(k), value(v, attrs, hook)) for k, v in keywords(node)]
    if kind == "tuple":
        return tuple(value(c, attrs, hook) for c in named_children(node))
    if kind == "map":
        return _map(node, attrs, hook)
    if kind == "block":
        inner = named_children(node)
        if len(inner) == 1:
            return value(inner[0], attrs, hook)
    if kind == "unary_operator":
        op = text(node.child_by_field_name("operator"))
        operand = node.child_by_field_name("operand")
        if op == "@" and operand.type == "identifier" and attrs and text(operand) in attrs:
            return attrs[text(operand)]
        if op in ("-", "+") and operand.type in ("integer", "float"):
            number = value(operand)
            return -number if op == "-" else number
    call = as_call(node)
    if call is not None:
        if hook is not None:
            handled = hook(call)
            if handled is not None:
                return handled
        args = tuple(value(a, attrs, hook) for a in call.args)
        return Expr(raw, line(node), call.name, args)
    return Expr(raw, line(node))


def _integer(raw: str) -> int:
    digits = raw.replace("_", "")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        return int(digits, 0)
    return int(digits)


def _char(raw: str) -> int | Expr:
    body_ = raw[1:]
    return ord(_unescape(body_) if body_.startswith("\\") and len(body_) > 1 else body_)


_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "e": "\x1b", "a": "\a", "b": "\b",
                   "f": "\f", "v": "\v", "0": "\0", "d": "\x7f", "\n": ""}


def _unescape(seq: str) -> str:
    rest = seq[1:]
    if rest[:1] in ("x", "u") and len(rest) > 1:
        return chr(int(rest[1:].strip("{}"), 16))
    if rest in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[rest]
    return rest  # \\ \" \' \# and an escaped sigil delimiter stand for themselves


def _quoted(node: Node, *, escapes: bool) -> str | None:
    """The content of a string/charlist/sigil/quoted atom node; None when it interpolates."""
    start = node.child_by_field_name("quoted_start")
    end = node.child_by_field_name("quoted_end")
    heredoc = start is not None and text(start) in ('"""', "'''")
    # Elixir strips the closing delimiter's indentation from every line of a heredoc.
    indent = end.start_point[1] if heredoc and end is not None else 0
    parts: list[str] = []
    first = True
    for child in node.named_children:
        if child.type == "interpolation":
            return None
        if child.type == "escape_sequence":
            parts.append(_unescape(text(child)) if escapes else text(child))
            first = False
        elif child.type == "quoted_content":
            content = text(child)
            if heredoc:
                content = _dedent(content[1:] if first and content.startswith("\n") else content,
                                  indent, at_line_start=first)
            if escapes:
                content = content.replace("\\\n", "")  # line continuation
            parts.append(content)
            first = False
    return "".join(parts)


def _dedent(content: str, indent: int, at_line_start: bool) -> str:
    lines = content.split("\n")
    out = []
    for i, piece in enumerate(lines):
        if i > 0 or at_line_start:
            strip = 0
            while strip < min(indent, len(piece)) and piece[strip] in " \t":
                strip += 1
            piece = piece[strip:]
        out.append(piece)
    return "\n".join(out)


def _sigil(node: Node) -> Any:
    name_node = next((c for c in node.named_children if c.type == "sigil_name"), None)
    mods_node = next((c for c in node.named_children if c.type == "sigil_modifiers"), None)
    name = text(name_node) if name_node is not None else ""
    modifiers = text(mods_node) if mods_node is not None else ""
    content = _quoted(node, escapes=name.islower())
    if content is None:
        return Expr(text(node), line(node))
    if name in ("s", "S"):
        return content
    if name in ("c", "C"):
        return Charlist(content)
    if name in ("w", "W"):
        wrap = Atom if "a" in modifiers else Charlist if "c" in modifiers else str
        return [wrap(word) for word in content.split()]
    return Expr(text(node), line(node))


def _map(node: Node, attrs: dict[str, Any] | None, hook: Hook | None) -> Any:
    children = named_children(node)
    if any(c.type == "struct" for c in children):
        return Expr(text(node), line(node))
    pairs: list[tuple[Any, Any]] = []
    for content in (c for c in children if c.type == "map_content"):
        for item in named_children(content):
            op = item.child_by_field_name("operator") if item.type == "binary_operator" else None
            if item.type == "keywords":
                pairs.extend(value(item, attrs, hook))
            elif op is not None and op.type == "=>":
                pairs.append((value(item.child_by_field_name("left"), attrs, hook),
                              value(item.child_by_field_name("right"), attrs, hook)))
            else:  # %{map | key: v} and friends
                return Expr(text(node), line(node))
    try:
        return dict(pairs)
    except TypeError:  # unhashable keys (lists, maps) have no dict form
        return Expr(text(node), line(node))
