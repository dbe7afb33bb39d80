"""Static N+1 scan of an Elixir project: Repo reads that run once per element of a collection.

Ecto never lazy-loads, so every N+1 is written out in the code: a Repo read (get, get!, get_by,
one, all, aggregate, exists?, preload, reload) inside the function of an Enum/Stream iteration,
a `for` comprehension, or a recursive function walking a list (`[head | tail]`); directly, or
one call deep through a function of the same module or of another module of the project (a
context function such as `Accounts.get_user!/1` called from a controller's loop).

What keeps false alarms down (measured on open-source Phoenix apps, see the README):
- loops over a literal collection (`[:a, :b]`, `1..3`, `~w(...)`, a module attribute) are
  bounded by the code itself and not reported;
- loops over chunks (`chunk_every`, `chunk_by`) are the batching fix already applied;
- a Repo call in the accumulator of a reduce runs once, and so does a `for`'s generator;
- tests, migrations, seeds and dependencies are not scanned: they are not request paths.

The parse is tolerant (unlike migrations, where a wrong tree would mean wrong SQL): a file with
syntax the grammar does not know is still scanned in the parts it could read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import tree_sitter_elixir
from tree_sitter import Language, Node, Parser

from tools.ecto.code import LOOP_FUNCTIONS, is_repo_call
from tools.ecto.elixir import Call, as_call, body, def_body, iter_calls, line, named_children, text
from tools.errors import InputError

READS = {"get", "get!", "get_by", "get_by!", "one", "one!", "all", "aggregate", "exists?", "preload",
         "reload", "reload!"}
LOOP_MODULES = {"Enum", "Stream", "Task", "Flow"}
LOOPS = LOOP_FUNCTIONS | {"flat_map_reduce", "scan", "take_while", "drop_while", "each_with_index",
                          "chunk_while", "dedup_by", "map_join", "map_every", "map_intersperse", "partition"}
CHUNKING = ("chunk_every", "chunk_by", "chunk_while", "Stream.chunk", "Enum.chunk")
SKIP_DIRS = {"deps", "_build", "node_modules", ".git", "test", "priv", "assets", ".elixir_ls", "cover", "tmp",
             ".ecto-optimizer", ".ecto-eval"}
MAX_FILE_BYTES = 2_000_000


@dataclass
class ScanFinding:
    kind: str
    file: str
    line: int
    call: str
    loop: str
    fix: str

    def as_json(self) -> dict:
        return {"kind": self.kind, "file": self.file, "line": self.line, "call": self.call, "loop": self.loop,
                "fix": self.fix}


@dataclass
class ScanResult:
    root: str
    files: int = 0
    findings: list[ScanFinding] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # files with syntax the parser could not read in full
    unreadable: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"findings": [f.as_json() for f in self.findings]}


@dataclass
class Fn:
    module: str
    name: str
    min_arity: int
    max_arity: int
    line: int
    heads: list[Node] = field(default_factory=list)
    bodies: list[Node] = field(default_factory=list)
    file: str = ""
    reads: list[Call] | None = None  # direct Repo reads, computed on demand

    def accepts(self, arity: int) -> bool:
        return self.min_arity <= arity <= self.max_arity


@dataclass
class Mod:
    name: str
    file: str
    aliases: dict[str, str] = field(default_factory=dict)
    functions: dict[str, list[Fn]] = field(default_factory=dict)

    def find(self, name: str, arity: int) -> Fn | None:
        for fn in self.functions.get(name, []):
            if fn.accepts(arity):
                return fn
        return None


_PARSER: Parser | None = None


def _parse(source: bytes):
    global _PARSER
    if _PARSER is None:
        _PARSER = Parser(Language(tree_sitter_elixir.language()))
    return _PARSER.parse(source)


# ---- indexing modules and functions ---------------------------------------------------------------

def _alias_target(node: Node) -> list[tuple[str, str]]:
    """(short, full) pairs an `alias` argument declares: `A.B`, `A.{B, C}`."""
    raw = text(node)
    if "{" in raw:
        base, _, rest = raw.partition(".{")
        names = [n.strip() for n in rest.rstrip("}").split(",") if n.strip()]
        return [(n.split(".")[-1], f"{base}.{n}") for n in names]
    return [(raw.split(".")[-1], raw)]


def _head(call: Call) -> tuple[str, int, int, Node | None] | None:
    """(name, min arity, max arity, head call node) of a def/defp."""
    if not call.args:
        return None
    head = call.args[0]
    if head.type == "binary_operator" and text(head.child_by_field_name("operator")) == "when":
        head = head.child_by_field_name("left")
    head_call = as_call(head)
    if head_call is None:
        if head.type == "identifier":
            return text(head), 0, 0, None
        return None
    defaults = sum(1 for a in head_call.args if a.type == "binary_operator"
                   and text(a.child_by_field_name("operator")) == "\\\\")
    n = len(head_call.args)
    return head_call.name, n - defaults, n, head_call.node


def _index_module(call: Call, prefix: str, file: str, out: dict[str, Mod]) -> None:
    if not call.args:
        return
    raw = text(call.args[0])
    name = raw.replace("__MODULE__", prefix) if prefix else raw
    if prefix and not raw.startswith(prefix) and "__MODULE__" not in raw:
        name = f"{prefix}.{raw}"
    mod = out.setdefault(name, Mod(name, file))
    mod.aliases.setdefault("__MODULE__", name)
    for stmt in _statements(body(call.do_block)):
        inner = as_call(stmt)
        if inner is None:
            continue
        if inner.name == "defmodule":
            _index_module(inner, name, file, out)
            mod.aliases[text(inner.args[0]).split(".")[-1]] = f"{name}.{text(inner.args[0])}" if inner.args else ""
        elif inner.name == "alias" and inner.args:
            pairs = _alias_target(inner.args[0])
            as_node = None
            if len(inner.args) > 1 and inner.args[-1].type == "keywords":
                from tools.ecto.elixir import keyword_get

                as_node = keyword_get(inner.args[-1], "as")
            if as_node is not None and len(pairs) == 1:
                pairs = [(text(as_node), pairs[0][1])]
            for short, full in pairs:
                mod.aliases[short] = full.replace("__MODULE__", name)
        elif inner.name in ("def", "defp"):
            head = _head(inner)
            if head is None:
                continue
            fname, lo, hi, head_node = head
            fns = mod.functions.setdefault(fname, [])
            # A header with defaults (`def f(a, b \\\\ 1)`) and the clauses after it are one function.
            fn = next((f for f in fns if f.max_arity == hi), None)
            if fn is None:
                fn = Fn(name, fname, lo, hi, line(inner.node), file=file)
                fns.append(fn)
            fn.min_arity = min(fn.min_arity, lo)
            if head_node is not None:
                fn.heads.append(head_node)
            fn.bodies.extend(def_body(inner))


def _statements(nodes: list[Node]) -> Iterator[Node]:
    """Module-level statements, looking through `if`/`unless` blocks that wrap definitions."""
    for node in nodes:
        call = as_call(node)
        if call is not None and call.name in ("if", "unless") and call.do_block is not None:
            yield from _statements(body(call.do_block))
        else:
            yield node


def index_source(source: bytes, file: str, out: dict[str, Mod]) -> bool:
    """Adds the file's modules to `out`; False when the parser had to skip some of it."""
    tree = _parse(source)
    for node in named_children(tree.root_node):
        call = as_call(node)
        if call is not None and call.name == "defmodule":
            _index_module(call, "", file, out)
    return not tree.root_node.has_error


# ---- finding loops --------------------------------------------------------------------------------

def _is_read(call: Call) -> bool:
    return call.function in READS and is_repo_call(call)


def _bounded(collection: Node | None) -> bool:
    """A collection whose size the code fixes: a literal list, a literal range, ~w(), @attribute."""
    if collection is None:
        return False
    kind = collection.type
    if kind in ("list", "sigil", "keywords", "tuple", "map"):
        return True
    if kind == "binary_operator" and text(collection.child_by_field_name("operator")) in ("..", "..//"):
        left, right = collection.child_by_field_name("left"), collection.child_by_field_name("right")
        return left is not None and right is not None and left.type == "integer" and right.type == "integer"
    if kind == "unary_operator" and text(collection).startswith("@"):
        return True
    return False


def _chunked(collection: Node | None) -> bool:
    return collection is not None and any(c in text(collection) for c in CHUNKING)


@dataclass
class Loop:
    name: str  # "Enum.map", "for", "recursion load/2"
    line: int
    bodies: list[Node]


def _loops(root: Node) -> Iterator[Loop]:
    for call in iter_calls(root):
        if call.name == "for":
            generators = [a for a in call.args if a.type == "binary_operator"
                          and text(a.child_by_field_name("operator")) == "<-"]
            if generators and all(_bounded(g.child_by_field_name("right")) for g in generators):
                continue
            if any(_chunked(g.child_by_field_name("right")) for g in generators):
                continue
            parts = [call.do_block] if call.do_block is not None else []
            if not parts and call.args and call.args[-1].type == "keywords":
                from tools.ecto.elixir import keyword_get

                do = keyword_get(call.args[-1], "do")
                parts = [do] if do is not None else []
            if parts:
                yield Loop("for", line(call.node), parts)
            continue
        if call.receiver is None or text(call.receiver) not in LOOP_MODULES or call.function not in LOOPS:
            continue
        collection = call.args[0] if call.args else None
        if _bounded(collection) or _chunked(collection):
            continue
        per_element = [a for a in call.args[1:] if a.type in ("anonymous_function", "unary_operator")]
        if call.do_block is not None:
            per_element.append(call.do_block)
        if per_element:
            yield Loop(call.name, line(call.node), per_element)


def _conses(head: Node) -> bool:
    stack = [head]
    while stack:
        node = stack.pop()
        if node.type == "list" and any(c.type == "binary_operator" and text(c.child_by_field_name("operator")) == "|"
                                       for c in node.named_children):
            return True
        stack.extend(node.named_children)
    return False


def _recursion(fn: Fn) -> Loop | None:
    """A function that walks a list by calling itself on the tail is a loop over that list,
    unless the list is a literal default argument (`opts \\\\ [{5, 8}, {4, 5}]`): bounded by the code."""
    walked: set[int] = set()
    bounded: set[int] = set()
    for head in fn.heads:
        call = as_call(head)
        for i, arg in enumerate(call.args if call else ()):
            if arg.type == "binary_operator" and text(arg.child_by_field_name("operator")) == "\\\\":
                if _bounded(arg.child_by_field_name("right")):
                    bounded.add(i)
            elif _conses(arg):
                walked.add(i)
    if not walked or walked <= bounded:
        return None
    for node in fn.bodies:
        for call in iter_calls(node):
            if call.receiver is None and call.name == fn.name and fn.accepts(len(call.args)):
                return Loop(f"recursion {fn.name}/{fn.max_arity}", fn.line, fn.bodies)
    return None


# ---- the scan ------------------------------------------------------------------------------------

class Scanner:
    def __init__(self, modules: dict[str, Mod]) -> None:
        self.modules = modules

    def reads(self, fn: Fn) -> list[Call]:
        if fn.reads is None:
            fn.reads = [c for node in fn.bodies for c in iter_calls(node) if _is_read(c)]
        return fn.reads

    def resolve(self, mod: Mod, receiver: str) -> Mod | None:
        head, _, rest = receiver.partition(".")
        full = mod.aliases.get(head)
        name = f"{full}.{rest}" if full and rest else (full or receiver)
        return self.modules.get(name) or self.modules.get(receiver)

    def per_element(self, loop: Loop, mod: Mod, current: Fn) -> Iterator[tuple[int, str, Call, str | None]]:
        """(line in the loop, what is called, the Repo read, via) for each read the loop makes."""
        for part in loop.bodies:
            for call in iter_calls(part):
                if _is_read(call):
                    yield line(call.node), call.name, call, None
                    continue
                target = self._callee(call, mod, current)
                if target is not None:
                    fn, shown = target
                    for read in self.reads(fn):
                        yield line(call.node), shown, read, fn.file
            for capture in _captures(part):
                target = self._named(capture, mod, current)
                if target is not None:
                    fn, shown = target
                    for read in self.reads(fn):
                        yield line(capture.node), shown, read, fn.file

    def _callee(self, call: Call, mod: Mod, current: Fn) -> tuple[Fn, str] | None:
        arity = len(call.args)
        if call.receiver is None:
            fn = mod.find(call.name, arity)
            if fn is None or fn is current:
                return None
            return fn, f"{call.name}/{arity}"
        receiver = text(call.receiver)
        if not receiver[:1].isupper() and receiver != "__MODULE__":
            return None
        other = self.resolve(mod, receiver)
        if other is None:
            return None
        fn = other.find(call.function, arity)
        if fn is None or fn.name.startswith("_"):
            return None
        return fn, f"{receiver}.{call.function}/{arity}"

    def _named(self, capture: "_Capture", mod: Mod, current: Fn) -> tuple[Fn, str] | None:
        if capture.receiver is None:
            fn = mod.find(capture.name, capture.arity)
            if fn is None or fn is current:
                return None
            return fn, f"{capture.name}/{capture.arity}"
        other = self.resolve(mod, capture.receiver)
        if other is None:
            return None
        fn = other.find(capture.name, capture.arity)
        return (fn, f"{capture.receiver}.{capture.name}/{capture.arity}") if fn else None

    def scan_module(self, mod: Mod, rel: str) -> list[ScanFinding]:
        found: dict[tuple[int, str], ScanFinding] = {}
        for fns in mod.functions.values():
            for fn in fns:
                loops = [loop for node in fn.bodies for loop in _loops(node)]
                recursion = _recursion(fn)
                if recursion is not None:
                    loops.insert(0, recursion)
                for loop in loops:  # outer loops first, so an inner loop's finding replaces them
                    through: dict[tuple[int, str], list[Call]] = {}
                    for at, shown, read, via_file in self.per_element(loop, mod, fn):
                        if via_file is None:
                            found[(at, read.name)] = ScanFinding(
                                kind="n_plus_one", file=rel, line=at, call=read.name,
                                loop=f"{loop.name} at line {loop.line}", fix=scan_fix(read))
                        else:
                            through.setdefault((at, shown), []).append(read)
                            reads = through[(at, shown)]
                            where = ", ".join(f"{r.name} at {via_file}:{line(r.node)}" for r in reads[:4])
                            found[(at, shown)] = ScanFinding(
                                kind="n_plus_one", file=rel, line=at, call=f"{shown} ({where})",
                                loop=f"{loop.name} at line {loop.line}", fix=scan_fix(min(reads, key=_priority)))
        return sorted(found.values(), key=lambda f: (f.line, f.call))


PRIORITY = ["get", "get!", "get_by", "get_by!", "one", "one!", "all", "aggregate", "exists?", "reload", "reload!",
            "preload"]


def _priority(read: Call) -> int:
    """The read that decides the rewrite: fetching the records comes before preloading onto them."""
    return PRIORITY.index(read.function) if read.function in PRIORITY else len(PRIORITY)


@dataclass
class _Capture:
    receiver: str | None
    name: str
    arity: int
    node: Node


def _captures(part: Node) -> Iterator[_Capture]:
    """`&name/1` and `&Mod.name/2` captures: the named function runs per element."""
    stack = [part]
    while stack:
        node = stack.pop()
        if node.type == "unary_operator" and text(node).startswith("&"):
            operand = node.child_by_field_name("operand")
            if operand is not None and operand.type == "binary_operator" \
                    and text(operand.child_by_field_name("operator")) == "/":
                left, right = operand.child_by_field_name("left"), operand.child_by_field_name("right")
                if right is not None and right.type == "integer" and left is not None:
                    target = text(left)
                    receiver, _, name = target.rpartition(".")
                    yield _Capture(receiver or None, name, int(text(right)), node)
                continue
        stack.extend(node.named_children)


def scan_fix(read: Call) -> str:
    """The rewrite for a Repo read found in a loop, in Ecto terms."""
    schema = None
    if read.args and read.args[0].type == "alias":
        schema = text(read.args[0]).split(".")[-1]
    fn = read.function.rstrip("!")
    if fn == "preload":
        assoc = text(read.args[1]) if len(read.args) > 1 else ":assoc"
        return (f"call Repo.preload once on the whole list before the loop, `Repo.preload(records, {assoc})`: "
                f"one query per association instead of one per element; or join and preload in the query "
                f"that loads the list")
    if fn in ("get", "get_by"):
        s = schema or "Schema"
        key = "id" if fn == "get" else "field"
        return (f"fetch them all before the loop, `Repo.all(from x in {s}, where: x.{key} in ^values)` "
                f"|> Map.new(&{{&1.{key}, &1}}), and look each up in the map; or declare the belongs_to "
                f"association and `Repo.preload(records, :{_snake(s) if schema else 'assoc'})`")
    if fn == "one" or fn == "all":
        return ("one query for every element instead, `where: x.key in ^keys` (one `= ANY($1)` query), then "
                "`Enum.group_by/2` (or Map.new) to hand each element its rows; or Repo.preload the "
                "association on the whole list")
    if fn == "aggregate":
        return ("one grouped query for every element: `from x in Schema, where: x.key in ^keys, "
                "group_by: x.key, select: {x.key, count(x.id)}` |> Repo.all() |> Map.new()")
    if fn == "exists?":
        return ("one query instead: `from x in Schema, where: x.key in ^keys, distinct: true, select: x.key` "
                "|> Repo.all() |> MapSet.new(), then test membership in the loop")
    if fn == "reload":
        return "Repo.reload takes a list: reload them all in one query before the loop"
    return f"one query for all elements before the loop instead of Repo.{read.function} per element"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".ex", ".exs")):
                yield Path(current) / name


def scan(directory: str | Path = ".") -> ScanResult:
    root = Path(directory)
    if not root.exists():
        raise InputError(f"no such directory: {root}")
    if root.is_file() and not root.name.endswith((".ex", ".exs")):
        raise InputError(f"{root} is not an Elixir file or a directory")
    base = root if root.is_dir() else root.parent
    result = ScanResult(root=str(root))
    modules: dict[str, Mod] = {}
    for path in _files(root):
        rel = path.relative_to(base).as_posix()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                result.unreadable.append(rel)
                continue
            source = path.read_bytes()
        except OSError:
            result.unreadable.append(rel)
            continue
        result.files += 1
        if not index_source(source, rel, modules):
            result.partial.append(rel)
    scanner = Scanner(modules)
    for mod in modules.values():
        result.findings.extend(scanner.scan_module(mod, mod.file))
    result.findings.sort(key=lambda f: (f.file, f.line, f.call))
    return result


def render_scan(result: ScanResult) -> str:
    lines = [f"{result.files} Elixir file(s) under {result.root}: {len(result.findings)} Repo read(s) per element"]
    for f in result.findings:
        lines.append(f"{f.file}:{f.line}: {f.call} inside {f.loop}\n  fix: {f.fix}")
    if result.partial:
        lines.append(f"({len(result.partial)} file(s) had syntax the parser skipped in part: "
                     f"{', '.join(result.partial[:5])}{'…' if len(result.partial) > 5 else ''})")
    return "\n".join(lines)
