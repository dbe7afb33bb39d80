"""An Ecto migration file as data: module attributes, and the operations of change/up/down in order.

The model stays close to what `Ecto.Migration` builds at run time (Table, Index, Reference,
Constraint structs and the column subcommands), with the source line of every operation and the
raw keyword options, so that a linter can report what the author wrote and `migration_sql` can
render what Ecto would run. Defaults that depend on repo configuration (implicit primary key,
reference type, timestamp type) are left unresolved here; `migration_sql` resolves them.

Nothing a migration may contain makes parsing fail: code we do not recognise becomes `Unknown`.
Only a file that is not valid Elixir (or has no module) raises InputError.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tree_sitter import Node

from tools.ecto import elixir as ex
from tools.ecto.elixir import Atom, Call, Expr
from tools.errors import InputError

# ---- values Ecto's migration helpers build ------------------------------------------------------


@dataclass
class Fragment:
    """`fragment("now()")`: SQL inserted verbatim as a default."""

    sql: str


DYNAMIC_OPTS = "__dynamic__"  # key holding options that are not a literal keyword list


def keyword_dict(opts: Any) -> dict[str, Any]:
    """A keyword list as a dict (last key wins, as `struct!/2` does); {} when not a keyword list."""
    if isinstance(opts, list) and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], Atom)
                                      for p in opts):
        return {str(k): v for k, v in opts}
    return {}


@dataclass
class Table:
    """`table(name, opts)`."""

    name: Any  # str, or Expr when not a literal
    opts: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def prefix(self) -> Any:
        return self.opts.get("prefix")

    @property
    def primary_key(self) -> Any:
        """True (repo default), False, or a keyword list like [name: :uuid, type: :binary_id]."""
        return self.opts.get("primary_key", True)

    @property
    def options(self) -> Any:
        return self.opts.get("options")

    @property
    def modifiers(self) -> Any:
        return self.opts.get("modifiers")

    @property
    def comment(self) -> Any:
        return self.opts.get("comment")


@dataclass
class Reference:
    """`references(table, opts)`, the type of an `add`/`modify`/`remove` column."""

    table: Any
    opts: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def column(self) -> Any:
        return self.opts.get("column")  # None -> repo default (:id)

    @property
    def type(self) -> Any:
        return self.opts.get("type")  # None -> repo default (:bigserial)

    @property
    def name(self) -> Any:
        return self.opts.get("name")

    @property
    def on_delete(self) -> Any:
        return self.opts.get("on_delete", Atom("nothing"))

    @property
    def on_update(self) -> Any:
        return self.opts.get("on_update", Atom("nothing"))

    @property
    def validate(self) -> Any:
        return self.opts.get("validate", True)

    @property
    def with_(self) -> list:
        return self.opts.get("with", [])

    @property
    def match(self) -> Any:
        return self.opts.get("match")

    @property
    def prefix(self) -> Any:
        return self.opts.get("prefix")


@dataclass
class Index:
    """`index(table, columns, opts)` / `unique_index(...)`. `columns` items are Atom (a column,
    quoted in SQL), str (raw SQL expression) or `(direction, column)` from `[desc: :col]`."""

    table: Any
    columns: list[Any]
    opts: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def name(self) -> Any:
        """The explicit name, else Ecto's default (`posts_title_index`)."""
        explicit = self.opts.get("name")
        return explicit if explicit is not None else default_index_name(self.table, self.columns)

    unique = property(lambda self: self.opts.get("unique", False))
    concurrently = property(lambda self: self.opts.get("concurrently", False))
    using = property(lambda self: self.opts.get("using"))
    where = property(lambda self: self.opts.get("where"))
    include = property(lambda self: self.opts.get("include", []))
    prefix = property(lambda self: self.opts.get("prefix"))
    nulls_distinct = property(lambda self: self.opts.get("nulls_distinct"))
    only = property(lambda self: self.opts.get("only", False))
    options = property(lambda self: self.opts.get("options"))
    comment = property(lambda self: self.opts.get("comment"))


@dataclass
class Constraint:
    """`constraint(table, name, opts)`: check or exclusion constraint."""

    table: Any
    name: Any
    opts: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    check = property(lambda self: self.opts.get("check"))
    exclude = property(lambda self: self.opts.get("exclude"))
    prefix = property(lambda self: self.opts.get("prefix"))
    comment = property(lambda self: self.opts.get("comment"))
    validate = property(lambda self: self.opts.get("validate", True))


def default_index_name(table: Any, columns: list[Any]) -> str | Expr:
    """Ecto's `default_index_name/1`: parts joined by `_`, each with non-word characters replaced
    by `_` and trailing `_` trimmed; so `["lower(title)"]` on posts is `posts_lower_title_index`."""
    parts = [table, *columns, "index"]
    names = []
    for part in parts:
        if isinstance(part, tuple) and len(part) == 2:
            part = part[1]
        if isinstance(part, (Expr, list, tuple, dict)) or part is None:
            return Expr(f"default index name of {table!r} {columns!r}", 0)
        names.append(_word_chars(str(part)).rstrip("_"))
    return "_".join(names)


def _word_chars(s: str) -> str:
    # Elixir's ~r"[^\w]" without the unicode flag: only ASCII letters, digits and _ are word chars.
    return "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in s)


# ---- operations ---------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Op:
    line: int
    text: str = field(default="", repr=False, compare=False)  # the source of the statement


@dataclass(kw_only=True)
class ColumnChange(Op):
    """A subcommand of a table block: add, add_if_not_exists, modify, remove, remove_if_exists.
    `type` is None for `remove :c` and `remove_if_exists :c`; it may be a `Reference`."""

    action: str
    column: Any
    type: Any = None
    opts: dict[str, Any] = field(default_factory=dict)
    arity: int = 3


@dataclass(kw_only=True)
class Timestamps(Op):
    """`timestamps(opts)`: two `add`s whose names and type depend on repo config; see
    `timestamp_columns`."""

    opts: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class CreateTable(Op):
    table: Table
    columns: list[Op] = field(default_factory=list)  # ColumnChange | Timestamps | Unknown
    if_not_exists: bool = False


@dataclass(kw_only=True)
class AlterTable(Op):
    table: Table
    changes: list[Op] = field(default_factory=list)


@dataclass(kw_only=True)
class DropTable(Op):
    table: Table
    if_exists: bool = False
    mode: Any = Atom("restrict")


@dataclass(kw_only=True)
class CreateIndex(Op):
    index: Index
    if_not_exists: bool = False


@dataclass(kw_only=True)
class DropIndex(Op):
    index: Index
    if_exists: bool = False
    mode: Any = Atom("restrict")


@dataclass(kw_only=True)
class RenameIndex(Op):
    index: Index
    to: Any


@dataclass(kw_only=True)
class CreateConstraint(Op):
    constraint: Constraint


@dataclass(kw_only=True)
class DropConstraint(Op):
    constraint: Constraint
    if_exists: bool = False
    mode: Any = Atom("restrict")


@dataclass(kw_only=True)
class RenameTable(Op):
    table: Table
    to: Table


@dataclass(kw_only=True)
class RenameColumn(Op):
    table: Table
    column: Any
    to: Any


@dataclass(kw_only=True)
class AnonFn(Op):
    """`fn -> … end` given to `execute`: runs when the command queue is flushed."""

    ops: list[Op] = field(default_factory=list)


@dataclass(kw_only=True)
class Execute(Op):
    """`execute(up)` / `execute(up, down)` / `execute_file(...)`. `up`/`down` are str (SQL), an
    `AnonFn`, or an `Expr` when not literal; `down` is None for the one-argument form."""

    up: Any
    down: Any = None
    arity: int = 1
    file: bool = False

    @property
    def reversible(self) -> bool:
        return self.arity == 2


@dataclass(kw_only=True)
class Flush(Op):
    pass


@dataclass(kw_only=True)
class DataChange(Op):
    """A Repo call (`repo().update_all`, `Repo.insert_all`, `Repo.query!`, `Ecto.Adapters.SQL.query!`).
    Unlike migration commands, Ecto runs it immediately rather than at the next flush."""

    receiver: str  # "repo()", "MyApp.Repo"
    function: str  # "update_all", "query!"
    table: str | None = None  # literal source table, when the call names one
    sql: str | None = None  # literal SQL of query/query!
    params: Any = None  # query params as written (None when absent)

    @property
    def writes(self) -> bool:
        """False for Repo reads (`all`, `one`, `get_by`, …); raw queries count as writes."""
        return self.function not in _REPO_READS


_REPO_READS = {"all", "one", "one!", "get", "get!", "get_by", "get_by!", "exists?", "aggregate",
               "stream", "preload", "reload", "reload!"}


@dataclass(kw_only=True)
class Unknown(Op):
    """Code we do not model. Repo calls inside it are listed, since they may change data."""

    data_changes: list[DataChange] = field(default_factory=list)


@dataclass
class Function:
    name: str
    line: int
    ops: list[Op]
    private: bool = False


@dataclass
class Attribute:
    name: str
    value: Any
    line: int


@dataclass
class Migration:
    module: str
    path: str | None = None
    attributes: dict[str, Attribute] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    uses: list[str] = field(default_factory=list)

    @property
    def version(self) -> int | None:
        if self.path is None:
            return None
        try:
            return migration_version(self.path)
        except InputError:
            return None

    def _flag(self, name: str) -> bool:
        attr = self.attributes.get(name)
        return attr is not None and attr.value is True

    @property
    def disable_ddl_transaction(self) -> bool:
        return self._flag("disable_ddl_transaction")

    @property
    def disable_migration_lock(self) -> bool:
        return self._flag("disable_migration_lock")

    @property
    def change(self) -> Function | None:
        return self.functions.get("change")

    @property
    def up(self) -> Function | None:
        return self.functions.get("up")

    @property
    def down(self) -> Function | None:
        return self.functions.get("down")


def timestamp_columns(op: Timestamps, repo_defaults: dict[str, Any] | None = None
                      ) -> list[ColumnChange]:
    """The `add`s Ecto's `timestamps/1` expands to: the repo's `migration_timestamps` merged with
    the call's options, `null: false` unless given, type `:naive_datetime` unless given."""
    opts = {**(repo_defaults or {}), **op.opts}
    opts.setdefault("null", False)
    col_type = opts.pop("type", Atom("naive_datetime"))
    inserted = opts.pop("inserted_at", Atom("inserted_at"))
    updated = opts.pop("updated_at", Atom("updated_at"))
    return [ColumnChange(action="add", column=name, type=col_type, opts=dict(opts),
                         line=op.line, text=op.text)
            for name in (inserted, updated) if name is not False]


# ---- parsing ------------------------------------------------------------------------------------

_LITERALS = {"atom", "boolean", "nil", "integer", "float", "string", "charlist", "char"}


def parse_migration(source: str | bytes, path: str | Path | None = None) -> Migration:
    where = f"{path}: " if path else ""
    try:
        tree = ex.parse(source)
    except InputError as exc:
        raise InputError(f"{where}{exc}") from None
    module = _find_module(tree.root_node)
    if module is None:
        raise InputError(f"{where}no `defmodule` found: not an Ecto migration")
    mig = Migration(module=ex.text(module.args[0]) if module.args else "",
                    path=str(path) if path is not None else None)
    attrs: dict[str, Any] = {}
    for node in ex.body(module.do_block):
        if node.type == "unary_operator" and ex.text(node.child_by_field_name("operator")) == "@":
            _attribute(node, mig, attrs)
            continue
        call = ex.as_call(node)
        if call is None:
            continue
        if call.name == "use" and call.args:
            mig.uses.append(ex.text(call.args[0]))
        elif call.name in ("def", "defp") and call.args:
            head = call.args[0]
            head_call = ex.as_call(head)
            name = head_call.name if head_call is not None and head.type == "call" else ex.text(head)
            if name not in mig.functions:  # migrations don't use multi-clause callbacks
                parser = _Parser(dict(attrs))
                mig.functions[name] = Function(name, ex.line(node), parser.ops(ex.def_body(call)),
                                               call.name == "defp")
    return mig


def _find_module(root: Node) -> Call | None:
    modules = [c for c in (ex.as_call(n) for n in ex.named_children(root))
               if c is not None and c.name == "defmodule" and c.do_block is not None]
    for mod in modules:  # prefer the one that is a migration if a file holds several
        for node in ex.body(mod.do_block):
            call = ex.as_call(node)
            if call is not None and call.name == "use" and call.args and \
                    ex.text(call.args[0]).endswith("Migration"):
                return mod
    return modules[0] if modules else None


def _attribute(node: Node, mig: Migration, attrs: dict[str, Any]) -> None:
    operand = node.child_by_field_name("operand")
    call = ex.as_call(operand) if operand is not None else None
    if call is None or not call.args:
        return
    val = ex.value(call.args[0], attrs)
    attrs[call.name] = val
    mig.attributes[call.name] = Attribute(call.name, val, ex.line(node))


class _Parser:
    """Turns statements of a function body into Ops. `attrs` are the module attributes defined
    above the function: Elixir reads `@x` at compile time, at that point in the module."""

    def __init__(self, attrs: dict[str, Any]):
        self.attrs = attrs

    def value(self, node: Node) -> Any:
        return ex.value(node, self.attrs, self._helper)

    def _helper(self, call: Call) -> Any:
        """Ecto.Migration's struct-building functions, wherever they appear in a value."""
        args = call.args
        name = call.name.removeprefix("Ecto.Migration.")
        line = ex.line(call.node)
        if name == "fragment" and len(args) == 1:
            sql = self.value(args[0])
            return Fragment(sql) if isinstance(sql, str) else None
        if name == "table" and 1 <= len(args) <= 2:
            return Table(self.value(args[0]), self._opts(args[1:]), line)
        if name == "references" and 1 <= len(args) <= 2:
            return Reference(self.value(args[0]), self._opts(args[1:]), line)
        if name in ("index", "unique_index") and 2 <= len(args) <= 3:
            columns = self.value(args[1])
            columns = columns if isinstance(columns, list) else [columns]
            opts = self._opts(args[2:])
            if name == "unique_index":
                opts = {"unique": True, **opts}
            return Index(self.value(args[0]), columns, opts, line)
        if name == "constraint" and 2 <= len(args) <= 3:
            return Constraint(self.value(args[0]), self.value(args[1]), self._opts(args[2:]), line)
        return None

    def _opts(self, args: tuple[Node, ...]) -> dict[str, Any]:
        if not args:
            return {}
        val = self.value(args[0])
        opts = keyword_dict(val)
        if not opts and val != []:
            # dynamic options: keep them visible instead of dropping them
            return {DYNAMIC_OPTS: val}
        return opts

    # -- statements --

    def ops(self, nodes: list[Node]) -> list[Op]:
        out: list[Op] = []
        for node in nodes:
            out.extend(self.statement(node))
        return out

    def statement(self, node: Node) -> list[Op]:
        line, src = ex.line(node), ex.text(node)
        if node.type in _LITERALS:  # `def down, do: :ok`: a value, nothing runs
            return []
        call = ex.as_call(node)
        if call is None and node.type == "binary_operator" and \
                ex.text(node.child_by_field_name("operator")) == "=":
            # `ids = repo().all(...)`: the right side is what runs
            right = ex.as_call(node.child_by_field_name("right"))
            data = self._data_change(right, line, src) if right is not None else None
            return [data] if data is not None else [self._unknown(node)]
        if call is None:
            return [self._unknown(node)]
        if call.name in ("import", "alias", "require"):
            return []
        op = self._command(call, line, src)
        return [op if op is not None else self._unknown(node)]

    def _command(self, call: Call, line: int, src: str) -> Op | None:
        name = call.name
        args, block = ex.split_do(call)
        if name in ("create", "create_if_not_exists") and len(args) == 1:
            obj = self.value(args[0])
            if_not_exists = name == "create_if_not_exists"
            if isinstance(obj, Table):
                columns = self.table_block(block) if block is not None else []
                return CreateTable(table=obj, columns=columns, if_not_exists=if_not_exists,
                                   line=line, text=src)
            if isinstance(obj, Index) and block is None:
                return CreateIndex(index=obj, if_not_exists=if_not_exists, line=line, text=src)
            if isinstance(obj, Constraint) and block is None and not if_not_exists:
                return CreateConstraint(constraint=obj, line=line, text=src)
            return None
        if name == "alter" and len(args) == 1 and block is not None:
            obj = self.value(args[0])
            if isinstance(obj, Table):
                return AlterTable(table=obj, changes=self.table_block(block), line=line, text=src)
            return None
        if name in ("drop", "drop_if_exists") and 1 <= len(args) <= 2:
            obj = self.value(args[0])
            opts = self._opts(args[1:])
            common = dict(if_exists=name == "drop_if_exists",
                          mode=opts.get("mode", Atom("restrict")), line=line, text=src)
            if isinstance(obj, Table):
                return DropTable(table=obj, **common)
            if isinstance(obj, Index):
                return DropIndex(index=obj, **common)
            if isinstance(obj, Constraint):
                return DropConstraint(constraint=obj, **common)
            return None
        if name == "rename":
            return self._rename(args, line, src)
        if name in ("execute", "execute_file") and 1 <= len(args) <= 2:
            up = self._execute_arg(args[0])
            down = self._execute_arg(args[1]) if len(args) == 2 else None
            if name == "execute_file":  # file contents are only known at run time
                up = up if isinstance(up, Expr) else Expr(ex.text(args[0]), line)
                down = None if down is None else Expr(ex.text(args[1]), line)
            return Execute(up=up, down=down, arity=len(args), file=name == "execute_file",
                           line=line, text=src)
        if name == "flush" and not args:
            return Flush(line=line, text=src)
        return self._data_change(call, line, src)

    def _rename(self, args: tuple[Node, ...], line: int, src: str) -> Op | None:
        if len(args) == 2:
            obj, to = self.value(args[0]), keyword_dict(self.value(args[1])).get("to")
            if isinstance(obj, Table) and isinstance(to, Table):
                return RenameTable(table=obj, to=to, line=line, text=src)
            if isinstance(obj, Index) and to is not None:
                return RenameIndex(index=obj, to=to, line=line, text=src)
        if len(args) == 3:
            obj, column = self.value(args[0]), self.value(args[1])
            to = keyword_dict(self.value(args[2])).get("to")
            if isinstance(obj, Table) and to is not None:
                return RenameColumn(table=obj, column=column, to=to, line=line, text=src)
        return None

    def _execute_arg(self, node: Node) -> Any:
        if node.type == "anonymous_function":
            clauses = ex.named_children(node)
            stmts = []
            for clause in clauses:
                stmts.extend(ex.body(clause.child_by_field_name("right")))
            return AnonFn(ops=self.ops(stmts), line=ex.line(node), text=ex.text(node))
        return self.value(node)

    def table_block(self, block: list[Node]) -> list[Op]:
        out: list[Op] = []
        for node in block:
            call = ex.as_call(node)
            op = self._column(call, node) if call is not None else None
            out.append(op if op is not None else self._unknown(node))
        return out

    def _column(self, call: Call, node: Node) -> Op | None:
        name, args = call.name, call.args
        line, src = ex.line(node), ex.text(node)
        if name == "timestamps" and len(args) <= 1:
            return Timestamps(opts=self._opts(args), line=line, text=src)
        if name in ("add", "add_if_not_exists", "modify") and 2 <= len(args) <= 3 or \
                name == "remove" and 1 <= len(args) <= 3 or \
                name == "remove_if_exists" and 1 <= len(args) <= 2:
            return ColumnChange(action=name, column=self.value(args[0]),
                                type=self.value(args[1]) if len(args) > 1 else None,
                                opts=self._opts(args[2:]), arity=len(args), line=line, text=src)
        return None

    def _data_change(self, call: Call, line: int, src: str) -> DataChange | None:
        receiver, args = call.receiver, list(call.args)
        if call.name in ("Ecto.Adapters.SQL.query", "Ecto.Adapters.SQL.query!") and args:
            receiver_text, args = ex.text(args[0]), args[1:]
        elif receiver is not None and _is_repo(receiver):
            receiver_text = ex.text(receiver)
        else:
            return None
        op = DataChange(receiver=receiver_text, function=call.function, line=line, text=src)
        if call.function in ("query", "query!") and args:
            sql = self.value(args[0])
            op.sql = sql if isinstance(sql, str) else None
            op.params = self.value(args[1]) if len(args) > 1 else None
        elif args:
            op.table = _source_table(args[0], self)
        return op

    def _unknown(self, node: Node) -> Unknown:
        found = []
        for call in ex.iter_calls(node):
            data = self._data_change(call, ex.line(call.node), ex.text(call.node))
            if data is not None:
                found.append(data)
        return Unknown(line=ex.line(node), text=ex.text(node), data_changes=found)


def _is_repo(node: Node) -> bool:
    """`repo()`, `Repo`, `MyApp.Repo`, `MyApp.ReadRepo`, or a variable called `repo`."""
    if node.type == "call":
        call = ex.as_call(node)
        return call is not None and call.name == "repo" and not call.args
    if node.type == "alias":
        return ex.text(node).rsplit(".", 1)[-1].endswith("Repo")
    return node.type == "identifier" and ex.text(node) == "repo"


def _source_table(node: Node, parser: _Parser) -> str | None:
    """The table of `"weather"` or `from(w in "weather", …)` as a Repo call's first argument."""
    val = parser.value(node)
    if isinstance(val, str) and not isinstance(val, Atom):
        return val
    call = ex.as_call(node)
    if call is not None and call.name in ("from", "Ecto.Query.from") and call.args:
        first = call.args[0]
        op = first.child_by_field_name("operator") if first.type == "binary_operator" else None
        if op is not None and op.type == "in":
            source = parser.value(first.child_by_field_name("right"))
            if isinstance(source, str) and not isinstance(source, Atom):
                return source
    return None


def migration_version(path: str | Path) -> int:
    """The version Ecto reads from a migration file name: the integer before the first `_`
    (`20240101120000_create_posts.exs` -> 20240101120000)."""
    base = Path(path).name
    stem = base.rsplit(".", 1)[0] if "." in base else base
    digits = len(stem) - len(stem.lstrip("0123456789"))
    if digits == 0 or stem[digits:digits + 1] != "_":
        raise InputError(f"{base}: not a migration file name (expected <version>_<name>.exs)")
    return int(stem[:digits])


def sort_migrations(paths: list[str | Path]) -> list[Path]:
    """Migration files in the order Ecto runs them: by version, then name. Like Ecto, files that
    are not `<version>_<name>.exs` are left out, and a duplicated version is an error."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.suffix != ".exs":
            continue
        try:
            version = migration_version(path)
        except InputError:
            continue
        found.append((version, path.stem.split("_", 1)[1], str(path), path))
    found.sort()
    for (v1, *_rest), (v2, _n, p2, _p) in zip(found, found[1:]):
        if v1 == v2:
            raise InputError(f"migration version {v1} is duplicated ({p2})")
    return [item[-1] for item in found]


def with_name(index: Index, name: Any) -> Index:
    """The same index under another name (for reversing `rename index`)."""
    return replace(index, opts={**index.opts, "name": name})
