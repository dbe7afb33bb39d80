"""What a migration does to the database, as a flat list of actions the rules read.

Two front ends feed the same actions: the Ecto DSL (parsed by tools.ecto.migration) and raw SQL
(`execute "…"`, `repo().query!("…")`), parsed with pglast. That is how one rule catches both
`create index(:posts, [:slug])` and `execute "CREATE INDEX posts_slug ON posts (slug)"`.

Each action keeps the line a finding should point at (the `add` inside an `alter table` block,
not the block), the line of the statement it belongs to (suppression comments may sit above
either), and the Ecto op, so a rule can word its fix in the DSL the author used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType, ObjectType
from pglast.stream import RawStream

from tools.ecto.elixir import Atom, Expr
from tools.ecto.migration import (
    AlterTable, AnonFn, ColumnChange, CreateConstraint, CreateIndex, CreateTable, DataChange,
    DropConstraint, DropIndex, DropTable, Execute, Fragment, Migration, Op, Reference, RenameColumn,
    RenameTable, Timestamps, Unknown, keyword_dict, timestamp_columns,
)

# ---- PostgreSQL types ---------------------------------------------------------------------------

_ALIASES = {
    "integer": "int4", "int": "int4", "bigint": "int8", "smallint": "int2", "boolean": "bool",
    "float": "float8", "double precision": "float8", "real": "float4", "decimal": "numeric",
    "character varying": "varchar", "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp", "time with time zone": "timetz",
    "time without time zone": "time", "serial": "serial4", "bigserial": "serial8",
    "smallserial": "serial2", "character": "bpchar", "char": "bpchar",
}


@dataclass(frozen=True)
class PgType:
    """A column type as PostgreSQL stores it: canonical name, type modifiers, array or not."""

    name: str
    mods: tuple[int, ...] = ()
    array: bool = False

    @staticmethod
    def of(name: str, mods: tuple[int, ...] = (), array: bool = False) -> "PgType":
        low = name.lower().strip()
        return PgType(_ALIASES.get(low, low), tuple(mods), array)

    def __str__(self) -> str:
        shown = {"int4": "integer", "int8": "bigint", "int2": "smallint", "bool": "boolean",
                 "float8": "double precision", "serial4": "serial", "serial8": "bigserial"}
        base = shown.get(self.name, self.name)
        if self.mods:
            base += "(" + ",".join(str(m) for m in self.mods) + ")"
        return base + ("[]" if self.array else "")

    @property
    def base(self) -> "PgType":
        return PgType(self.name, self.mods)


# Ecto's ecto_to_db map (shared/reference/ecto-migrations.md §1), reduced to what type
# comparisons need.
_ECTO_TYPES = {
    "id": "int4", "integer": "int4", "bigint": "int8", "smallint": "int2", "serial": "serial4",
    "bigserial": "serial8", "identity": "int8", "binary_id": "uuid", "uuid": "uuid",
    "string": "varchar", "bitstring": "varbit", "binary": "bytea", "map": "jsonb",
    "float": "float8", "decimal": "numeric", "boolean": "bool", "time_usec": "time",
    "utc_datetime": "timestamp", "utc_datetime_usec": "timestamp", "naive_datetime": "timestamp",
    "naive_datetime_usec": "timestamp", "duration": "interval",
}


def ecto_pg_type(ecto_type: Any, opts: dict[str, Any] | None = None) -> PgType | None:
    """The PostgreSQL type an Ecto migration type becomes; None when only known at run time."""
    opts = opts or {}
    if isinstance(ecto_type, tuple) and len(ecto_type) == 2 and ecto_type[0] == "array":
        inner = ecto_pg_type(ecto_type[1], opts)
        return PgType(inner.name, inner.mods, True) if inner else None
    if isinstance(ecto_type, tuple) and len(ecto_type) == 2 and ecto_type[0] == "map":
        return PgType("jsonb")
    if isinstance(ecto_type, Reference):
        ref_type = ecto_type.opts.get("type", Atom("bigserial"))
        mapped = {"serial": "int4", "bigserial": "int8", "identity": "int8", "id": "int4"}
        if isinstance(ref_type, Atom) and ref_type in mapped:
            return PgType(mapped[ref_type])
        return ecto_pg_type(ref_type, {})
    if not isinstance(ecto_type, str) or isinstance(ecto_type, Expr):
        return None
    name = _ECTO_TYPES.get(str(ecto_type), str(ecto_type)) if isinstance(ecto_type, Atom) \
        else str(ecto_type)
    if ecto_type in ("time", "utc_datetime", "naive_datetime"):
        return PgType.of(name, (0,))
    precision, size, scale = opts.get("precision"), opts.get("size"), opts.get("scale")
    if ecto_type in ("time_usec", "utc_datetime_usec", "naive_datetime_usec"):
        return PgType.of(name, (precision,) if isinstance(precision, int) else ())
    if isinstance(size, int) and not isinstance(size, bool):
        return PgType.of(name, (size,))
    if isinstance(precision, int) and not isinstance(precision, bool):
        return PgType.of(name, (precision, scale if isinstance(scale, int) else 0))
    if ecto_type == "string":
        return PgType("varchar", (255,))
    return PgType.of(name)


def sql_pg_type(type_name: ast.TypeName) -> PgType:
    names = [n.sval for n in type_name.names if isinstance(n, ast.String)]
    mods = []
    for mod in type_name.typmods or ():
        if isinstance(mod, ast.A_Const) and isinstance(mod.val, ast.Integer):
            mods.append(mod.val.ival)
    return PgType.of(names[-1] if names else "?", tuple(mods), bool(type_name.arrayBounds))


SERIAL_TYPES = {"serial2", "serial4", "serial8"}

# ---- default volatility -------------------------------------------------------------------------

# pg_proc.provolatile = 'v' for the functions people put in defaults. A volatile default makes
# ADD COLUMN evaluate it once per existing row, i.e. rewrite the table.
VOLATILE_FUNCTIONS = {
    "random", "random_normal", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
    "uuid_generate_v4", "uuid_generate_v7", "uuidv4", "uuidv7", "clock_timestamp", "timeofday",
    "nextval", "currval", "setval", "txid_current", "pg_current_xact_id", "gen_random_bytes",
    "uuid_time_nextval", "uuid_sequence_nextval", "ulid", "gen_ulid", "generate_ulid",
}
# Stable or immutable: evaluated once for the ALTER, stored as the column's "missing value".
NONVOLATILE_FUNCTIONS = {
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "timezone",
    "to_char", "to_timestamp", "to_date", "date_trunc", "lower", "upper", "concat", "coalesce",
    "jsonb_build_object", "json_build_object", "jsonb_build_array", "array", "make_interval",
    "current_database", "current_schema", "md5", "length", "substr", "trim", "btrim",
}


@dataclass(frozen=True)
class Default:
    """A column default: its SQL text and whether evaluating it per row differs per row."""

    sql: str
    volatile: bool | None  # None: an unknown function, so it cannot be told
    functions: tuple[str, ...] = ()


def default_of_sql(expr_sql: str) -> Default:
    try:
        stmt = parse_sql(f"SELECT {expr_sql}")[0].stmt
    except Exception:  # noqa: BLE001 - pglast raises its own ParseError; anything unparsable is unknown
        return Default(expr_sql, None)
    return default_of_node(stmt.targetList[0].val if stmt.targetList else None, expr_sql)


def default_of_node(node: Any, text: str | None = None) -> Default:
    funcs: list[str] = []
    volatile: bool | None = False
    for sub in _walk_sql(node):
        if isinstance(sub, ast.FuncCall):
            name = sub.funcname[-1].sval.lower()
            funcs.append(name)
            if name in VOLATILE_FUNCTIONS:
                volatile = True
            elif name not in NONVOLATILE_FUNCTIONS and volatile is False:
                volatile = None
        elif isinstance(sub, ast.SubLink) and volatile is False:
            volatile = None
    if text is None:
        text = _deparse(node)
    return Default(text, volatile, tuple(funcs))


def _walk_sql(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur is None:
            continue
        if isinstance(cur, (list, tuple)):
            stack.extend(cur)
            continue
        if not isinstance(cur, ast.Node):
            continue
        yield cur
        for attr in cur:
            stack.append(getattr(cur, attr, None))


def _deparse(node: Any) -> str:
    try:
        return RawStream()(node)
    except Exception:  # noqa: BLE001 - deparsing is for messages only
        return "?"


def ecto_default(value: Any) -> Default:
    """`default:` as written in Ecto. Literals and Elixir expressions are computed once, before
    the SQL is sent, so only `fragment(...)` can be volatile."""
    if isinstance(value, Fragment):
        return default_of_sql(value.sql)
    if isinstance(value, Expr):
        return Default(value.text, False)
    return Default(repr(value), False)


# ---- actions ------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Action:
    line: int
    stmt_line: int = 0
    table: str | None = None
    op: Op | None = field(default=None, repr=False, compare=False)
    sql: str | None = field(default=None, repr=False)  # the statement, for actions from raw SQL

    @property
    def raw(self) -> bool:
        return self.sql is not None


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    validated: bool
    named_explicitly: bool = False


@dataclass(kw_only=True)
class ColumnSpec:
    name: str
    type: PgType | None
    ecto_type: Any = None
    default: Default | None = None
    not_null: bool = False
    primary_key: bool = False
    generated_stored: bool = False
    identity: bool = False
    reference: ForeignKey | None = None
    line: int = 0
    timestamps: bool = False  # came from timestamps()


@dataclass(kw_only=True)
class CreateTableAct(Action):
    columns: list[ColumnSpec] = field(default_factory=list)
    implicit_pk: ColumnSpec | None = None  # the id column Ecto prepends
    if_not_exists: bool = False


@dataclass(kw_only=True)
class AddColumnAct(Action):
    column: ColumnSpec


@dataclass(kw_only=True)
class AddForeignKeyAct(Action):
    fk: ForeignKey
    new_column: bool = False  # the column is added by the same statement


@dataclass(kw_only=True)
class AddCheckAct(Action):
    name: str
    expr: str
    validated: bool


@dataclass(kw_only=True)
class AddExclusionAct(Action):
    name: str


@dataclass(kw_only=True)
class AddUniqueAct(Action):
    name: str | None
    columns: tuple[str, ...] = ()
    using_index: bool = False


@dataclass(kw_only=True)
class AddPrimaryKeyAct(Action):
    columns: tuple[str, ...] = ()
    using_index: bool = False


@dataclass(kw_only=True)
class ValidateAct(Action):
    name: str


@dataclass(kw_only=True)
class DropConstraintAct(Action):
    name: str


@dataclass(kw_only=True)
class CreateIndexAct(Action):
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    concurrently: bool = False
    if_not_exists: bool = False
    where: str | None = None
    using: str | None = None


@dataclass(kw_only=True)
class DropIndexAct(Action):
    name: str
    concurrently: bool = False


@dataclass(kw_only=True)
class AlterTypeAct(Action):
    column: str
    new: PgType | None
    old: PgType | None = None  # from `modify … from:`; the linter fills it from history otherwise
    via_modify: bool = False
    sets_null: bool | None = None  # modify's null: option (True/False), None when absent
    sets_default: bool = False
    using: bool = False
    primary_key: bool = False  # modify … primary_key: true


@dataclass(kw_only=True)
class SetNotNullAct(Action):
    column: str
    via_modify: bool = False


@dataclass(kw_only=True)
class DropNotNullAct(Action):
    column: str


@dataclass(kw_only=True)
class SetDefaultAct(Action):
    column: str
    default: Default | None  # None: DROP DEFAULT
    via_modify: bool = False


@dataclass(kw_only=True)
class DropColumnAct(Action):
    column: str


@dataclass(kw_only=True)
class DropTableAct(Action):
    pass


@dataclass(kw_only=True)
class RenameColumnAct(Action):
    column: str
    to: str


@dataclass(kw_only=True)
class RenameTableAct(Action):
    to: str


@dataclass(kw_only=True)
class EnumAct(Action):
    type_name: str
    action: str  # "create", "add_value", "rename_value", "drop"
    value: str | None = None
    ordered: bool = False  # ADD VALUE … BEFORE/AFTER


@dataclass(kw_only=True)
class DataAct(Action):
    """A change to rows. `kind` is insert, update, delete, truncate or other; `nested` means it
    runs inside a loop, a helper or a conditional (usually a batching loop)."""

    kind: str
    function: str = ""  # update_all, query!, … (Ecto) or the SQL command
    nested: bool = False
    batched: bool = False  # raw SQL whose WHERE pages with a LIMIT subquery
    select_source: bool = False  # INSERT … SELECT


@dataclass(kw_only=True)
class MaintenanceAct(Action):
    """Commands that lock a table outright: VACUUM FULL, CLUSTER, REINDEX, SET TABLESPACE,
    SET LOGGED/UNLOGGED, REFRESH MATERIALIZED VIEW, DETACH PARTITION, LOCK TABLE."""

    kind: str
    concurrently: bool = False
    detail: str = ""


@dataclass(kw_only=True)
class TransactionControlAct(Action):
    kind: str


@dataclass(kw_only=True)
class SettingAct(Action):
    name: str  # lock_timeout, statement_timeout
    value: str = ""


@dataclass(kw_only=True)
class UnanalysedAct(Action):
    reason: str


# ---- from the Ecto DSL --------------------------------------------------------------------------


@dataclass
class EctoDefaults:
    """Repo settings that change what the DSL means (migration_primary_key & co)."""

    primary_key: dict[str, Any] | None = field(default_factory=dict)
    foreign_key: dict[str, Any] = field(default_factory=dict)
    timestamps: dict[str, Any] = field(default_factory=dict)


def name_of(value: Any) -> str:
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, tuple) and len(value) == 2:  # [desc: :col]
        return name_of(value[1])
    return str(value)


def _known_name(value: Any) -> str:
    """An index name, or "" when it is only known at run time."""
    return "" if isinstance(value, Expr) else str(value)


def fk_name(table: str, column: str, ref: Reference) -> str:
    """Ecto's constraint name: `<table>_<column>_fkey`, no prefix, unless `name:` is given."""
    explicit = ref.opts.get("name")
    return name_of(explicit) if explicit is not None else f"{table}_{column}_fkey"


def migration_ops(migration: Migration) -> list[Op]:
    """What `mix ecto.migrate` runs: up/0, else change/0."""
    fn = migration.functions.get("up") or migration.functions.get("change")
    return list(fn.ops) if fn is not None else []


def ecto_actions(migration: Migration, defaults: EctoDefaults | None = None) -> list[Action]:
    defaults = defaults or EctoDefaults()
    out: list[Action] = []
    in_tx = not migration.disable_ddl_transaction
    if in_tx and "after_begin" in migration.functions:
        for op in migration.functions["after_begin"].ops:
            out.extend(_op_actions(op, defaults, nested=False))
    for op in migration_ops(migration):
        out.extend(_op_actions(op, defaults, nested=False))
    called = _called_helpers(migration)
    for name, fn in migration.functions.items():
        if fn.private and name in called:
            for op in fn.ops:  # helpers hold batching loops more often than not
                out.extend(a for a in _op_actions(op, defaults, nested=True)
                           if isinstance(a, DataAct))
    return out


def _called_helpers(migration: Migration) -> set[str]:
    body = migration_ops(migration)
    text = "\n".join(op.text for op in body)
    return {name for name, fn in migration.functions.items() if fn.private and name in text}


def _table_name(table: Any) -> str:
    return name_of(table.name)


def _op_actions(op: Op, d: EctoDefaults, nested: bool) -> list[Action]:
    line = op.line
    base = dict(line=line, stmt_line=line, op=op)
    if isinstance(op, CreateTable):
        table = _table_name(op.table)
        columns = []
        for change in _expand(op.columns, d):
            columns.append(_column_spec(table, change))
        implicit = _implicit_pk(op.table, d)
        acts: list[Action] = [CreateTableAct(table=table, columns=columns, implicit_pk=implicit,
                                             if_not_exists=op.if_not_exists, **base)]
        for col in columns:
            if col.reference is not None:
                acts.append(AddForeignKeyAct(table=table, fk=col.reference, new_column=True,
                                             **{**base, "line": col.line or line}))
        return acts
    if isinstance(op, AlterTable):
        table = _table_name(op.table)
        acts = []
        for change in _expand(op.changes, d):
            acts.extend(_column_change(table, change, op))
        return acts
    if isinstance(op, DropTable):
        return [DropTableAct(table=_table_name(op.table), **base)]
    if isinstance(op, CreateIndex):
        index = op.index
        return [CreateIndexAct(table=name_of(index.table), name=_known_name(index.name),
                               columns=tuple(name_of(c) for c in index.columns)
                               if isinstance(index.columns, list) else (),
                               unique=index.unique is True, concurrently=_truthy(index.concurrently),
                               if_not_exists=op.if_not_exists,
                               where=index.where if isinstance(index.where, str) else None,
                               using=name_of(index.using) if index.using else None, **base)]
    if isinstance(op, DropIndex):
        return [DropIndexAct(table=name_of(op.index.table), name=_known_name(op.index.name),
                             concurrently=_truthy(op.index.concurrently), **base)]
    if isinstance(op, CreateConstraint):
        c = op.constraint
        table, name = name_of(c.table), name_of(c.name)
        if c.exclude is not None:
            return [AddExclusionAct(table=table, name=name, **base)]
        check = c.check if isinstance(c.check, str) else name_of(c.check) if c.check else ""
        return [AddCheckAct(table=table, name=name, expr=check, validated=c.validate is not False,
                            **base)]
    if isinstance(op, DropConstraint):
        return [DropConstraintAct(table=name_of(op.constraint.table),
                                  name=name_of(op.constraint.name), **base)]
    if isinstance(op, RenameTable):
        return [RenameTableAct(table=_table_name(op.table), to=_table_name(op.to), **base)]
    if isinstance(op, RenameColumn):
        return [RenameColumnAct(table=_table_name(op.table), column=name_of(op.column),
                                to=name_of(op.to), **base)]
    if isinstance(op, Execute):
        return _execute_actions(op, d)
    if isinstance(op, DataChange):
        return _data_actions(op, nested, line)
    if isinstance(op, Unknown):
        acts = []
        for data in op.data_changes:
            acts.extend(_data_actions(data, True, line))
        return acts
    return []


def _execute_actions(op: Execute, d: EctoDefaults) -> list[Action]:
    up = op.up
    if isinstance(up, AnonFn):
        acts: list[Action] = []
        for inner in up.ops:
            acts.extend(_op_actions(inner, d, nested=False))
        for a in acts:
            a.stmt_line = op.line
        return acts
    if isinstance(up, str) and not isinstance(up, Atom):
        return sql_actions(up, line=op.line, op=op)
    reason = "execute_file: the SQL is in another file" if op.file else \
        "the SQL is built when the migration runs"
    return [UnanalysedAct(line=op.line, stmt_line=op.line, op=op, reason=reason)]


_DATA_KINDS = {
    "insert": "insert", "insert!": "insert", "insert_all": "insert", "insert_or_update": "insert",
    "insert_or_update!": "insert", "update": "update", "update!": "update",
    "update_all": "update", "delete": "delete", "delete!": "delete", "delete_all": "delete",
}


def _data_actions(op: DataChange, nested: bool, stmt_line: int) -> list[Action]:
    if op.function in ("query", "query!") and op.sql is not None:
        acts = sql_actions(op.sql, line=op.line, op=op)
        for a in acts:
            a.stmt_line = stmt_line
            if isinstance(a, DataAct):
                a.nested = a.nested or nested
        return acts
    if not op.writes:
        return []
    kind = _DATA_KINDS.get(op.function, "other")
    return [DataAct(line=op.line, stmt_line=stmt_line, op=op, table=op.table, kind=kind,
                    function=op.function, nested=nested)]


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _expand(ops: list[Op], d: EctoDefaults) -> list[ColumnChange]:
    out = []
    for op in ops:
        if isinstance(op, Timestamps):
            for col in timestamp_columns(op, d.timestamps):
                col.opts["__timestamps__"] = True
                out.append(col)
        elif isinstance(op, ColumnChange):
            out.append(op)
    return out


def _implicit_pk(table: Any, d: EctoDefaults) -> ColumnSpec | None:
    option = table.primary_key
    if option is False:
        return None
    if option is True:
        if d.primary_key is None:
            return None
        opts = dict(d.primary_key)
    else:
        opts = keyword_dict(option) if isinstance(option, list) else {}
    name = name_of(opts.pop("name", Atom("id")))
    ecto_type = opts.pop("type", Atom("bigserial"))
    return ColumnSpec(name=name, type=ecto_pg_type(ecto_type, opts), ecto_type=ecto_type,
                      primary_key=True, not_null=True, line=table.line)


def _column_spec(table: str, change: ColumnChange) -> ColumnSpec:
    opts = change.opts
    column = name_of(change.column)
    ecto_type = change.type
    reference = None
    if isinstance(ecto_type, Reference):
        reference = ForeignKey(name=fk_name(table, column, ecto_type),
                               columns=(column, *(name_of(k) for k, _ in
                                                  (ecto_type.with_ if isinstance(ecto_type.with_, list) else []))),
                               ref_table=name_of(ecto_type.table),
                               validated=ecto_type.validate is not False,
                               named_explicitly="name" in ecto_type.opts)
    generated = opts.get("generated")
    stored = isinstance(generated, str) and "stored" in generated.lower()
    default = ecto_default(opts["default"]) if "default" in opts and opts["default"] is not None \
        else None
    return ColumnSpec(name=column, type=ecto_pg_type(ecto_type, opts), ecto_type=ecto_type,
                      default=default, not_null=opts.get("null") is False,
                      primary_key=opts.get("primary_key") is True, generated_stored=stored,
                      identity=ecto_type == "identity" and isinstance(ecto_type, Atom),
                      reference=reference, line=change.line,
                      timestamps=bool(opts.get("__timestamps__")))


def _column_change(table: str, change: ColumnChange, op: AlterTable) -> list[Action]:
    base = dict(line=change.line or op.line, stmt_line=op.line, op=change, table=table)
    action = change.action
    if action in ("add", "add_if_not_exists"):
        spec = _column_spec(table, change)
        acts: list[Action] = [AddColumnAct(column=spec, **base)]
        if spec.reference is not None:
            acts.append(AddForeignKeyAct(fk=spec.reference, new_column=True, **base))
        if spec.primary_key:
            acts.append(AddPrimaryKeyAct(columns=(spec.name,), **base))
        return acts
    if action == "modify":
        column = name_of(change.column)
        opts = change.opts
        old = None
        source = opts.get("from")
        if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], list):
            old = ecto_pg_type(source[0], keyword_dict(source[1]))
        elif source is not None:
            old = ecto_pg_type(source, {})
        acts = [AlterTypeAct(column=column, new=ecto_pg_type(change.type, opts), old=old,
                             via_modify=True, sets_null=opts.get("null") if isinstance(
                                 opts.get("null"), bool) else None,
                             sets_default="default" in opts,
                             primary_key=opts.get("primary_key") is True, **base)]
        if opts.get("null") is False:
            acts.append(SetNotNullAct(column=column, via_modify=True, **base))
        elif opts.get("null") is True:
            acts.append(DropNotNullAct(column=column, **base))
        if "default" in opts:
            value = opts["default"]
            acts.append(SetDefaultAct(column=column, via_modify=True,
                                      default=ecto_default(value) if value is not None else None,
                                      **base))
        if isinstance(change.type, Reference):
            ref = change.type
            acts.append(AddForeignKeyAct(fk=ForeignKey(
                name=fk_name(table, column, ref), columns=(column,), ref_table=name_of(ref.table),
                validated=ref.validate is not False, named_explicitly="name" in ref.opts), **base))
        return acts
    if action in ("remove", "remove_if_exists"):
        return [DropColumnAct(column=name_of(change.column), **base)]
    return []


# ---- from SQL -----------------------------------------------------------------------------------

def sql_actions(sql: str, *, line: int, op: Op | None = None) -> list[Action]:
    """Actions for SQL text (one or more statements). SQL pglast cannot parse is one
    UnanalysedAct, so a typo never hides silently and never crashes the run."""
    try:
        stmts = parse_sql(sql)
    except Exception as exc:  # noqa: BLE001 - pglast.parser.ParseError and friends
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [UnanalysedAct(line=line, stmt_line=line, op=op, sql=sql,
                              reason=f"PostgreSQL cannot parse it: {first}")]
    out: list[Action] = []
    for raw in stmts:
        start = raw.stmt_location or 0
        length = raw.stmt_len or len(sql) - start
        text = sql[start:start + length].strip()
        base = dict(line=line, stmt_line=line, op=op, sql=text)
        out.extend(_stmt_actions(raw.stmt, base))
    return out


def _rel(rangevar: Any) -> str | None:
    return rangevar.relname if isinstance(rangevar, ast.RangeVar) else None


def _strs(items: Any) -> tuple[str, ...]:
    return tuple(i.sval for i in items or () if isinstance(i, ast.String))


def _stmt_actions(stmt: Any, base: dict[str, Any]) -> list[Action]:
    if isinstance(stmt, ast.CreateStmt):
        return [_create_table(stmt, base)]
    if isinstance(stmt, ast.CreateTableAsStmt) and stmt.into is not None:
        # CREATE TABLE … AS / CREATE MATERIALIZED VIEW: new, so indexing it blocks no one
        return [CreateTableAct(table=_rel(stmt.into.rel), if_not_exists=bool(stmt.if_not_exists),
                               **base)]
    if isinstance(stmt, ast.AlterTableStmt):
        if stmt.objtype not in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_MATVIEW):
            return []
        table = _rel(stmt.relation)
        acts: list[Action] = []
        for cmd in stmt.cmds or ():
            acts.extend(_alter_cmd(table, cmd, base))
        return acts
    if isinstance(stmt, ast.IndexStmt):
        cols = []
        for p in stmt.indexParams or ():
            cols.append(p.name if p.name else _deparse(p.expr))
        return [CreateIndexAct(table=_rel(stmt.relation), name=stmt.idxname or "",
                               columns=tuple(cols), unique=bool(stmt.unique),
                               concurrently=bool(stmt.concurrent),
                               if_not_exists=bool(stmt.if_not_exists),
                               where=_deparse(stmt.whereClause) if stmt.whereClause else None,
                               using=stmt.accessMethod, **base)]
    if isinstance(stmt, ast.DropStmt):
        return _drop(stmt, base)
    if isinstance(stmt, ast.RenameStmt):
        kind = stmt.renameType
        if kind == ObjectType.OBJECT_COLUMN and _rel(stmt.relation):
            return [RenameColumnAct(table=_rel(stmt.relation), column=stmt.subname,
                                    to=stmt.newname, **base)]
        if kind == ObjectType.OBJECT_TABLE:
            return [RenameTableAct(table=_rel(stmt.relation), to=stmt.newname, **base)]
        return []
    if isinstance(stmt, ast.AlterEnumStmt):
        type_name = ".".join(_strs(stmt.typeName))
        if stmt.oldVal:
            return [EnumAct(type_name=type_name, action="rename_value", value=stmt.oldVal, **base)]
        return [EnumAct(type_name=type_name, action="add_value", value=stmt.newVal,
                        ordered=bool(stmt.newValNeighbor), **base)]
    if isinstance(stmt, ast.CreateEnumStmt):
        return [EnumAct(type_name=".".join(_strs(stmt.typeName)), action="create", **base)]
    if isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
        kind = "update" if isinstance(stmt, ast.UpdateStmt) else "delete"
        return [DataAct(table=_rel(stmt.relation), kind=kind, function=kind.upper(),
                        batched=_has_limit(stmt.whereClause), **base)]
    if isinstance(stmt, ast.InsertStmt):
        select = stmt.selectStmt
        from_select = isinstance(select, ast.SelectStmt) and not select.valuesLists
        return [DataAct(table=_rel(stmt.relation), kind="insert", function="INSERT",
                        select_source=from_select, **base)]
    if isinstance(stmt, ast.MergeStmt):
        return [DataAct(table=_rel(stmt.relation), kind="update", function="MERGE", **base)]
    if isinstance(stmt, ast.TruncateStmt):
        rels = [_rel(r) for r in stmt.relations or ()]
        return [DataAct(table=r, kind="truncate", function="TRUNCATE", **base) for r in rels]
    if isinstance(stmt, ast.VacuumStmt):
        full = any(isinstance(o, ast.DefElem) and o.defname == "full" for o in stmt.options or ())
        if stmt.is_vacuumcmd and full:
            rels = [_rel(r.relation) for r in stmt.rels or ()] or [None]
            return [MaintenanceAct(table=r, kind="vacuum_full", **base) for r in rels]
        return []
    if isinstance(stmt, ast.ClusterStmt):
        return [MaintenanceAct(table=_rel(stmt.relation), kind="cluster", **base)]
    if isinstance(stmt, ast.ReindexStmt):
        conc = any(isinstance(p, ast.DefElem) and p.defname == "concurrently"
                   for p in stmt.params or ())
        return [MaintenanceAct(table=_rel(stmt.relation) or stmt.name, kind="reindex",
                               concurrently=conc, **base)]
    if isinstance(stmt, ast.RefreshMatViewStmt):
        return [MaintenanceAct(table=_rel(stmt.relation), kind="refresh_matview",
                               concurrently=bool(stmt.concurrent), **base)]
    if isinstance(stmt, ast.LockStmt):
        rels = [_rel(r) for r in stmt.relations or ()]
        return [MaintenanceAct(table=r, kind="lock_table", detail=_LOCK_MODES.get(stmt.mode, ""),
                               **base) for r in rels]
    if isinstance(stmt, ast.TransactionStmt):
        return [TransactionControlAct(kind=str(stmt.kind.name).removeprefix("TRANS_STMT_"), **base)]
    if isinstance(stmt, ast.VariableSetStmt) and stmt.name in ("lock_timeout", "statement_timeout"):
        value = " ".join(_deparse(a) for a in stmt.args or ())
        return [SettingAct(name=stmt.name, value=value, **base)]
    if isinstance(stmt, ast.SelectStmt):  # SELECT set_config('lock_timeout', …)
        for sub in _walk_sql(stmt):
            if isinstance(sub, ast.FuncCall) and sub.funcname[-1].sval == "set_config" and \
                    sub.args and isinstance(sub.args[0], ast.A_Const) and \
                    isinstance(sub.args[0].val, ast.String) and \
                    sub.args[0].val.sval in ("lock_timeout", "statement_timeout"):
                return [SettingAct(name=sub.args[0].val.sval, **base)]
    return []


_LOCK_MODES = {1: "ACCESS SHARE", 2: "ROW SHARE", 3: "ROW EXCLUSIVE", 4: "SHARE UPDATE EXCLUSIVE",
               5: "SHARE", 6: "SHARE ROW EXCLUSIVE", 7: "EXCLUSIVE", 8: "ACCESS EXCLUSIVE"}


def _has_limit(where: Any) -> bool:
    return any(isinstance(n, ast.SelectStmt) and n.limitCount is not None for n in _walk_sql(where))


def _create_table(stmt: ast.CreateStmt, base: dict[str, Any]) -> CreateTableAct:
    table = _rel(stmt.relation)
    columns = []
    for elt in stmt.tableElts or ():
        if isinstance(elt, ast.ColumnDef):
            columns.append(_sql_column(table, elt, base["line"]))
    return CreateTableAct(table=table, columns=columns, if_not_exists=bool(stmt.if_not_exists),
                          **base)


def _sql_column(table: str | None, col: ast.ColumnDef, line: int) -> ColumnSpec:
    spec = ColumnSpec(name=col.colname, type=sql_pg_type(col.typeName) if col.typeName else None,
                      line=line, not_null=bool(col.is_not_null))
    for c in col.constraints or ():
        if not isinstance(c, ast.Constraint):
            continue
        if c.contype == ConstrType.CONSTR_DEFAULT:
            spec.default = default_of_node(c.raw_expr)
        elif c.contype == ConstrType.CONSTR_NOTNULL:
            spec.not_null = True
        elif c.contype == ConstrType.CONSTR_PRIMARY:
            spec.primary_key = spec.not_null = True
        elif c.contype == ConstrType.CONSTR_IDENTITY:
            spec.identity = True
        elif c.contype == ConstrType.CONSTR_GENERATED:
            spec.generated_stored = True  # PostgreSQL < 18 only has STORED
        elif c.contype == ConstrType.CONSTR_FOREIGN:
            spec.reference = ForeignKey(name=c.conname or f"{table}_{col.colname}_fkey",
                                        columns=(col.colname,), ref_table=_rel(c.pktable) or "",
                                        validated=not c.skip_validation,
                                        named_explicitly=bool(c.conname))
    if col.identity and col.identity != "\x00":  # pglast keeps the C char: NUL means none
        spec.identity = True
    return spec


def _alter_cmd(table: str | None, cmd: ast.AlterTableCmd, base: dict[str, Any]) -> list[Action]:
    sub = cmd.subtype
    b = dict(base, table=table)
    if sub == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        spec = _sql_column(table, cmd.def_, base["line"])
        acts: list[Action] = [AddColumnAct(column=spec, **b)]
        if spec.reference is not None:
            acts.append(AddForeignKeyAct(fk=spec.reference, new_column=True, **b))
        if spec.primary_key:
            acts.append(AddPrimaryKeyAct(columns=(spec.name,), **b))
        for c in cmd.def_.constraints or ():
            if isinstance(c, ast.Constraint) and c.contype == ConstrType.CONSTR_UNIQUE:
                acts.append(AddUniqueAct(name=c.conname, columns=(spec.name,), **b))
        return acts
    if sub == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
        c = cmd.def_
        kind = c.contype
        if kind == ConstrType.CONSTR_FOREIGN:
            cols = _strs(c.fk_attrs)
            name = c.conname or f"{table}_{'_'.join(cols)}_fkey"
            return [AddForeignKeyAct(fk=ForeignKey(name=name, columns=cols,
                                                   ref_table=_rel(c.pktable) or "",
                                                   validated=not c.skip_validation,
                                                   named_explicitly=bool(c.conname)), **b)]
        if kind == ConstrType.CONSTR_CHECK:
            return [AddCheckAct(name=c.conname or "", expr=_deparse(c.raw_expr),
                                validated=not c.skip_validation, **b)]
        if kind == ConstrType.CONSTR_UNIQUE:
            return [AddUniqueAct(name=c.conname, columns=_strs(c.keys),
                                 using_index=bool(c.indexname), **b)]
        if kind == ConstrType.CONSTR_PRIMARY:
            return [AddPrimaryKeyAct(columns=_strs(c.keys), using_index=bool(c.indexname), **b)]
        if kind == ConstrType.CONSTR_EXCLUSION:
            return [AddExclusionAct(name=c.conname or "", **b)]
        return []
    if sub == AlterTableType.AT_ValidateConstraint:
        return [ValidateAct(name=cmd.name, **b)]
    if sub == AlterTableType.AT_DropConstraint:
        return [DropConstraintAct(name=cmd.name, **b)]
    if sub == AlterTableType.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
        return [AlterTypeAct(column=cmd.name, new=sql_pg_type(cmd.def_.typeName),
                             using=cmd.def_.raw_default is not None, **b)]
    if sub == AlterTableType.AT_SetNotNull:
        return [SetNotNullAct(column=cmd.name, **b)]
    if sub == AlterTableType.AT_DropNotNull:
        return [DropNotNullAct(column=cmd.name, **b)]
    if sub == AlterTableType.AT_ColumnDefault:
        default = default_of_node(cmd.def_) if cmd.def_ is not None else None
        return [SetDefaultAct(column=cmd.name, default=default, **b)]
    if sub == AlterTableType.AT_DropColumn:
        return [DropColumnAct(column=cmd.name, **b)]
    rewrites = {AlterTableType.AT_SetTableSpace: "set_tablespace",
                AlterTableType.AT_SetLogged: "set_logged",
                AlterTableType.AT_SetUnLogged: "set_unlogged",
                AlterTableType.AT_SetAccessMethod: "set_access_method"}
    if sub in rewrites:
        return [MaintenanceAct(kind=rewrites[sub], **b)]
    if sub == AlterTableType.AT_DetachPartition:
        conc = bool(getattr(cmd.def_, "concurrent", False))
        return [MaintenanceAct(kind="detach_partition", concurrently=conc, **b)]
    return []


def _drop(stmt: ast.DropStmt, base: dict[str, Any]) -> list[Action]:
    out: list[Action] = []
    for obj in stmt.objects or ():
        names = _strs(obj) if isinstance(obj, (list, tuple)) else ()
        if not names:
            if isinstance(obj, ast.TypeName):
                names = _strs(obj.names)
            else:
                continue
        if stmt.removeType == ObjectType.OBJECT_INDEX:
            out.append(DropIndexAct(name=names[-1], concurrently=bool(stmt.concurrent), **base))
        elif stmt.removeType == ObjectType.OBJECT_TABLE:
            out.append(DropTableAct(**dict(base, table=names[-1])))
        elif stmt.removeType == ObjectType.OBJECT_TYPE:
            out.append(EnumAct(type_name=names[-1], action="drop", **base))
    return out
