"""The SQL Ecto's PostgreSQL adapter runs for a parsed migration, statement by statement.

Strings follow ecto_sql 3.14 (`Ecto.Adapters.Postgres.Connection.execute_ddl/1`, see
shared/reference/ecto-migrations.md §1-§3), including its quirks (`ALTER COLUMN … TYPE` on every
`modify`, index expressions given as strings are not quoted, FK names without the prefix).

The order is the runner's, not the file's: migration commands are queued and run at the end of
the callback or at `flush()`, while Repo calls run at once; on rollback of `change/0` the queue
runs newest first, each command reversed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from tools.ecto.elixir import Atom, Expr
from tools.ecto.migration import (
    DYNAMIC_OPTS, AlterTable, AnonFn, ColumnChange, Constraint, CreateConstraint, CreateIndex,
    CreateTable, DataChange, DropConstraint, DropIndex, DropTable, Execute, Flush, Fragment,
    Migration, Op, Reference, RenameColumn, RenameIndex, RenameTable, Table, Timestamps, Unknown,
    keyword_dict, migration_version, sort_migrations, timestamp_columns, with_name,
)
from tools.errors import InputError

__all__ = ["RepoConfig", "SqlStatement", "migration_sql", "migration_version", "sort_migrations"]


@dataclass(frozen=True)
class RepoConfig:
    """The repo's `migration_*` settings; the defaults are Ecto's. `primary_key=None` means
    `migration_primary_key: false`."""

    primary_key: dict[str, Any] | None = field(default_factory=dict)  # e.g. {"type": "binary_id"}
    foreign_key: dict[str, Any] = field(default_factory=dict)  # {"column": …, "type": …}
    timestamps: dict[str, Any] = field(default_factory=dict)  # {"type": "utc_datetime", …}
    default_prefix: str | None = None


@dataclass(frozen=True)
class SqlStatement:
    sql: str
    line: int  # of the operation in the migration file
    in_transaction: bool  # False under @disable_ddl_transaction true
    op: Op | None = field(default=None, repr=False, compare=False)


class _Dynamic(Exception):
    """Raised while rendering an op whose SQL depends on run-time values."""


def migration_sql(migration: Migration, direction: str = "up", *, config: RepoConfig | None = None,
                  on_dynamic: Callable[[Op], None] | None = None) -> list[SqlStatement]:
    """Raises InputError naming the line for an irreversible op on `direction="down"` of
    `change/0`, and for anything Ecto itself would reject. Ops whose SQL only exists at run time
    (`execute(fn -> … end)`, `repo().update_all`, unrecognised code) raise too, unless
    `on_dynamic` is given: then it is called with the op, which is left out."""
    if direction not in ("up", "down"):
        raise InputError(f"direction must be 'up' or 'down', not {direction!r}")
    return _Runner(migration, config or RepoConfig(), on_dynamic).run(direction)


class _Runner:
    def __init__(self, migration: Migration, config: RepoConfig,
                 on_dynamic: Callable[[Op], None] | None):
        self.migration = migration
        self.config = config
        self.on_dynamic = on_dynamic
        self.in_transaction = not migration.disable_ddl_transaction
        self.out: list[SqlStatement] = []
        self.r = _Render(self)

    def where(self, line: int) -> str:
        return f"{self.migration.path or self.migration.module}:{line}"

    def fail(self, op: Op, message: str) -> InputError:
        return InputError(f"{self.where(op.line)}: {message}")

    def run(self, direction: str) -> list[SqlStatement]:
        fns = self.migration.functions
        if direction == "up":
            body, backward = fns.get("up") or fns.get("change"), False
        else:
            body, backward = fns.get("down"), False
            if body is None:
                body, backward = fns.get("change"), True
        if body is None:
            want = "up/0" if direction == "up" else "down/0"
            raise InputError(f"{self.migration.path or self.migration.module}: "
                             f"does not implement {want} or change/0")
        # after_begin/before_commit only run when the migration is inside a transaction
        if self.in_transaction and "after_begin" in fns:
            self.callback(fns["after_begin"].ops, backward)
        self.callback(body.ops, backward)
        if self.in_transaction and "before_commit" in fns:
            self.callback(fns["before_commit"].ops, backward)
        return self.out

    def callback(self, ops: list[Op], backward: bool) -> None:
        queue: list[Op] = []
        for op in ops:
            if isinstance(op, DataChange):
                self.guard(op, lambda op=op: self.data_sql(op))
            elif isinstance(op, Flush):
                if backward:
                    raise self.fail(op, "flush() inside change/0 cannot run on rollback "
                                        "(Ecto raises); define up/0 and down/0")
                self.flush(queue, backward)
                queue = []
            elif isinstance(op, Unknown):
                self.dynamic(op)
            else:
                queue.append(op)
        self.flush(queue, backward)

    def flush(self, queue: list[Op], backward: bool) -> None:
        for op in (reversed(queue) if backward else queue):
            self.guard(op, lambda op=op: self.command(op, backward))

    def guard(self, op: Op, render: Callable[[], list[str]]) -> None:
        try:
            sqls = render()
        except _Dynamic:
            self.dynamic(op)
            return
        self.out.extend(SqlStatement(sql, op.line, self.in_transaction, op) for sql in sqls)

    def dynamic(self, op: Op) -> None:
        if self.on_dynamic is not None:
            self.on_dynamic(op)
            return
        snippet = " ".join(op.text.split())
        snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
        raise self.fail(op, f"`{snippet}` is only known when Elixir runs it; its SQL cannot be "
                            "derived from the source")

    # -- commands --

    def command(self, op: Op, backward: bool) -> list[str]:
        if isinstance(op, Execute):
            if backward and not op.reversible:
                raise self.irreversible(op)
            return self.execute_sql(op, op.down if backward else op.up)
        if backward:
            op = self.reverse(op)
        return self.r.ddl(op)

    def execute_sql(self, op: Execute, what: Any) -> list[str]:
        if isinstance(what, str) and not isinstance(what, Atom):
            return [what]
        if isinstance(what, AnonFn):
            sqls: list[str] = []
            for inner in what.ops:
                if not isinstance(inner, DataChange):
                    raise _Dynamic()
                sqls.extend(self.data_sql(inner))
            return sqls
        if isinstance(what, list) and what:
            raise self.fail(op, "PostgreSQL adapter does not support keyword lists in execute")
        raise _Dynamic()

    def data_sql(self, op: DataChange) -> list[str]:
        if op.function in ("query", "query!") and op.sql is not None and op.params in (None, []):
            return [op.sql]
        raise _Dynamic()

    def irreversible(self, op: Op) -> InputError:
        snippet = " ".join(op.text.split())
        snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
        return self.fail(op, f"cannot reverse `{snippet}` in change/0; "
                             "Ecto needs explicit up/0 and down/0 for it")

    def reverse(self, op: Op) -> Op:
        """Ecto.Migration.Runner's reverse/1: what rollback of change/0 runs instead of `op`."""
        common = dict(line=op.line, text=op.text)
        if isinstance(op, CreateTable):
            return DropTable(table=op.table, if_exists=op.if_not_exists, **common)
        if isinstance(op, CreateIndex):
            return DropIndex(index=op.index, if_exists=op.if_not_exists, **common)
        if isinstance(op, DropIndex):
            return CreateIndex(index=op.index, if_not_exists=op.if_exists, **common)
        if isinstance(op, RenameIndex):
            return RenameIndex(index=with_name(op.index, op.to), to=op.index.name, **common)
        if isinstance(op, RenameTable):
            return RenameTable(table=op.to, to=op.table, **common)
        if isinstance(op, RenameColumn):
            return RenameColumn(table=op.table, column=op.to, to=op.column, **common)
        if isinstance(op, CreateConstraint):
            return DropConstraint(constraint=op.constraint, **common)
        if isinstance(op, AlterTable):
            changes = []
            for change in self.r.expand(op.changes):
                changes.insert(0, self.reverse_change(change))
            return AlterTable(table=op.table, changes=changes, **common)
        raise self.irreversible(op)

    def reverse_change(self, change: ColumnChange) -> ColumnChange:
        common = dict(line=change.line, text=change.text)
        if change.action == "add":
            return ColumnChange(action="remove", column=change.column, type=change.type, opts={},
                                **common)
        if change.action == "remove" and change.arity >= 2:
            return ColumnChange(action="add", column=change.column, type=change.type,
                                opts=change.opts, **common)
        if change.action == "modify" and change.opts.get("from") is not None:
            source = change.opts["from"]
            rest = {k: v for k, v in change.opts.items() if k != "from"}
            if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], list):
                from_opts = keyword_dict(source[1])
                return ColumnChange(action="modify", column=change.column, type=source[0],
                                    opts={**from_opts, "from": (change.type, rest)}, **common)
            return ColumnChange(action="modify", column=change.column, type=source,
                                opts={**rest, "from": change.type}, **common)
        raise self.irreversible(change)


class _Render:
    """execute_ddl/1 for one op, as a list of SQL strings."""

    def __init__(self, runner: _Runner):
        self.runner = runner
        self.config = runner.config
        self.line = 0  # of the op or column being rendered, for error messages

    def bad(self, message: str) -> InputError:
        return InputError(f"{self.runner.where(self.line)}: {message}")

    def ddl(self, op: Op) -> list[str]:
        self.line = op.line
        if isinstance(op, CreateTable):
            return self.create_table(op)
        if isinstance(op, AlterTable):
            return self.alter_table(op)
        if isinstance(op, DropTable):
            return [f"DROP TABLE {'IF EXISTS ' if op.if_exists else ''}"
                    f"{self.table_name(op.table)}{self.drop_mode(op.mode)}"]
        if isinstance(op, CreateIndex):
            return self.create_index(op)
        if isinstance(op, DropIndex):
            index = op.index
            return [f"DROP INDEX {'CONCURRENTLY ' if _truthy(index.concurrently) else ''}"
                    f"{'IF EXISTS ' if op.if_exists else ''}"
                    f"{self.qualified(self.prefix(index), index.name)}{self.drop_mode(op.mode)}"]
        if isinstance(op, RenameIndex):
            index = op.index
            return [f"ALTER INDEX {self.qualified(self.prefix(index), index.name)} "
                    f"RENAME TO {self.quote(op.to)}"]
        if isinstance(op, RenameTable):
            return [f"ALTER TABLE {self.table_name(op.table)} RENAME TO {self.quote(op.to.name)}"]
        if isinstance(op, RenameColumn):
            return [f"ALTER TABLE {self.table_name(op.table)} "
                    f"RENAME {self.quote(op.column)} TO {self.quote(op.to)}"]
        if isinstance(op, CreateConstraint):
            return self.create_constraint(op.constraint)
        if isinstance(op, DropConstraint):
            c = self.literal_opts(op.constraint)
            return [f"ALTER TABLE {self.qualified(self.prefix(c), c.table)} DROP CONSTRAINT "
                    f"{'IF EXISTS ' if op.if_exists else ''}{self.quote(c.name)}"
                    f"{self.drop_mode(op.mode)}"]
        raise _Dynamic()

    # -- tables --

    def create_table(self, op: CreateTable) -> list[str]:
        table = self.literal_opts(op.table)
        name = self.table_name(table)
        columns = self.expand(op.columns)
        pk = self.primary_key(table)
        if pk is not None:
            columns.insert(0, pk)
        defs = []
        for col in columns:
            self.line = col.line or op.line
            if col.action != "add":
                raise self.bad(f"`{col.action}` cannot be used inside create table")
            defs.append(self.column_definition(table, col, create=True))
        modifiers = table.modifiers
        if modifiers is not None and not isinstance(modifiers, str):
            raise self.bad(f"PostgreSQL adapter expects :modifiers to be a string or nil, "
                           f"got {modifiers!r}")
        options = table.options
        if isinstance(options, list):
            raise self.bad("PostgreSQL adapter does not support keyword lists in :options")
        sql = (f"CREATE {modifiers + ' ' if modifiers else ''}TABLE "
               f"{'IF NOT EXISTS ' if op.if_not_exists else ''}{name} "
               f"({', '.join(defs)}{self.pk_definition(columns, ', ')})"
               f"{' ' + self.text(options) if options is not None else ''}")
        return [sql, *self.comments(table, name, columns)]

    def alter_table(self, op: AlterTable) -> list[str]:
        table = self.literal_opts(op.table)
        name = self.table_name(table)
        changes = self.expand(op.changes)
        parts = []
        for col in changes:
            self.line = col.line
            parts.append(self.column_change(table, col))
        self.line = op.line
        sql = f"ALTER TABLE {name} {', '.join(parts)}{self.pk_definition(changes, ', ADD ')}"
        return [sql, *self.comments(table, name, changes)]

    def expand(self, ops: list[Op]) -> list[ColumnChange]:
        """Table-block ops as column changes: timestamps() becomes its two adds."""
        out: list[ColumnChange] = []
        for op in ops:
            if isinstance(op, Timestamps):
                out.extend(timestamp_columns(op, self.config.timestamps))
            elif isinstance(op, ColumnChange):
                out.append(op)
            else:  # Unknown inside a table block
                self.runner.dynamic(op)
        return out

    def primary_key(self, table: Table) -> ColumnChange | None:
        """Ecto.Migration.__primary_key__/1: the column create table prepends."""
        option = table.primary_key
        if option is False:
            return None
        if option is True:
            if self.config.primary_key is None:
                return None
            opts = dict(self.config.primary_key)
        elif isinstance(option, list) and (keyword_dict(option) or option == []):
            opts = keyword_dict(option)
        else:
            raise self.bad(":primary_key option must be either a boolean or a keyword list")
        opts["primary_key"] = True
        name = opts.pop("name", Atom("id"))
        col_type = opts.pop("type", Atom("bigserial"))
        return ColumnChange(action="add", column=name, type=col_type, opts=opts,
                            line=table.line)

    def pk_definition(self, columns: list[ColumnChange], prefix: str) -> str:
        pks = [c.column for c in columns
               if c.action in ("add", "add_if_not_exists", "modify")
               and _truthy(c.opts.get("primary_key"))]
        return f"{prefix}PRIMARY KEY ({self.quote_names(pks)})" if pks else ""

    def comments(self, table: Table, name: str, columns: list[ColumnChange]) -> list[str]:
        out = []
        if table.comment is not None:
            out.append(f"COMMENT ON TABLE {name} IS {self.single_quote(table.comment)}")
        for col in columns:
            comment = col.opts.get("comment")
            if col.action in ("add", "add_if_not_exists", "modify") and comment is not None:
                out.append(f"COMMENT ON COLUMN {name}.{self.quote(col.column)} "
                           f"IS {self.single_quote(comment)}")
        return out

    def column_definition(self, table: Table, col: ColumnChange, create: bool) -> str:
        opts = self.column_opts(col)
        name = self.quote(col.column)
        if isinstance(col.type, Reference):
            ref = col.type
            ref_type = self.ref_type(ref)
            link = "" if create else "ADD "
            return (f"{name} {self.reference_column_type(ref_type, opts)}"
                    f"{self.column_options(ref_type, opts)}, {link}"
                    f"{self.reference_expr(ref, table, col.column)}")
        return f"{name} {self.column_type(col.type, opts)}{self.column_options(col.type, opts)}"

    def column_change(self, table: Table, col: ColumnChange) -> str:
        action, name = col.action, self.quote(col.column)
        opts = self.column_opts(col)
        if action == "add":
            return "ADD COLUMN " + self.column_definition(table, col, create=False)
        if action == "add_if_not_exists":
            return "ADD COLUMN IF NOT EXISTS " + self.column_definition(table, col, create=False)
        if action == "modify":
            collation = self.collation(opts)
            drop = self.drop_reference(opts.get("from"), table, col.column)
            if isinstance(col.type, Reference):
                ref_type = self.ref_type(col.type)
                return (f"{drop}ALTER COLUMN {name} TYPE "
                        f"{self.reference_column_type(ref_type, opts)}, ADD "
                        f"{self.reference_expr(col.type, table, col.column)}"
                        f"{self.modify_null(name, opts)}{self.modify_default(name, ref_type, opts)}"
                        f"{collation}")
            return (f"{drop}ALTER COLUMN {name} TYPE {self.column_type(col.type, opts)}"
                    f"{self.modify_null(name, opts)}{self.modify_default(name, col.type, opts)}"
                    f"{collation}")
        if action == "remove":
            if isinstance(col.type, Reference):
                return (f"DROP CONSTRAINT {self.reference_name(col.type, table, col.column)}, "
                        f"DROP COLUMN {name}")
            return f"DROP COLUMN {name}"
        if action == "remove_if_exists":
            if isinstance(col.type, Reference):
                return (f"DROP CONSTRAINT IF EXISTS "
                        f"{self.reference_name(col.type, table, col.column)}, "
                        f"DROP COLUMN IF EXISTS {name}")
            return f"DROP COLUMN IF EXISTS {name}"
        raise self.bad(f"unknown column change {action}")

    def column_opts(self, col: ColumnChange) -> dict[str, Any]:
        if DYNAMIC_OPTS in col.opts:
            raise _Dynamic()
        return col.opts

    def modify_null(self, name: str, opts: dict[str, Any]) -> str:
        null = opts.get("null")
        if null is True:
            return f", ALTER COLUMN {name} DROP NOT NULL"
        if null is False:
            return f", ALTER COLUMN {name} SET NOT NULL"
        return ""

    def modify_default(self, name: str, col_type: Any, opts: dict[str, Any]) -> str:
        if "default" not in opts:
            return ""
        return f", ALTER COLUMN {name} SET{self.default_expr(opts['default'], col_type)}"

    def column_options(self, col_type: Any, opts: dict[str, Any]) -> str:
        default = self.default_expr(opts["default"], col_type) if "default" in opts else ""
        null = opts.get("null")
        null = " NOT NULL" if null is False else " NULL" if null is True else ""
        return f"{default}{null}{self.collation(opts)}"

    def collation(self, opts: dict[str, Any]) -> str:
        return f' COLLATE "{self.text(opts["collation"])}"' if "collation" in opts else ""

    # -- types --

    def column_type(self, col_type: Any, opts: dict[str, Any]) -> str:
        name = self.column_type_name(col_type, opts)
        generated = opts.get("generated")
        if generated is None and col_type == "identity" and isinstance(col_type, Atom):
            seq = [f"START WITH {v}" for v in [opts.get("start_value")] if _positive_int(v)]
            seq += [f"INCREMENT BY {v}" for v in [opts.get("increment")] if _positive_int(v)]
            if not seq:
                return f"{name} GENERATED BY DEFAULT AS IDENTITY"
            return f"{name} GENERATED BY DEFAULT AS IDENTITY({' '.join(seq)}) "
        if generated is None:
            return name
        if isinstance(generated, str) and not isinstance(generated, Atom):
            return f"{name} GENERATED {generated}"
        raise self.bad(f"the `:generated` option only accepts strings, received: {generated!r}")

    def column_type_name(self, col_type: Any, opts: dict[str, Any]) -> str:
        if isinstance(col_type, tuple) and len(col_type) == 2 and col_type[0] == "array":
            return self.column_type_name(col_type[1], opts) + "[]"
        db = self.ecto_to_db(col_type)
        if col_type in ("time", "utc_datetime", "naive_datetime"):
            return f"{db}(0)"
        precision = opts.get("precision")
        if col_type in ("time_usec", "utc_datetime_usec", "naive_datetime_usec"):
            return f"{db}({self.text(precision)})" if _truthy(precision) else db
        if col_type == "duration":
            fields = opts.get("fields")
            if _truthy(fields) and _truthy(precision):
                return f"{db} {self.text(fields)}({self.text(precision)})"
            if _truthy(precision):
                return f"{db}({self.text(precision)})"
            return f"{db} {self.text(fields)}" if _truthy(fields) else db
        size, scale = opts.get("size"), opts.get("scale")
        if _truthy(size):
            return f"{db}({self.text(size)})"
        if _truthy(precision):
            return f"{db}({self.text(precision)},{self.text(scale if _truthy(scale) else 0)})"
        if col_type == "string":
            return f"{db}(255)"
        return db

    _ECTO_TO_DB = {"id": "integer", "identity": "bigint", "serial": "serial",
                   "bigserial": "bigserial", "binary_id": "uuid", "string": "varchar",
                   "bitstring": "varbit", "binary": "bytea", "map": "jsonb", "time_usec": "time",
                   "utc_datetime": "timestamp", "utc_datetime_usec": "timestamp",
                   "naive_datetime": "timestamp", "naive_datetime_usec": "timestamp",
                   "duration": "interval"}

    def ecto_to_db(self, col_type: Any) -> str:
        if isinstance(col_type, tuple) and len(col_type) == 2 and col_type[0] == "array":
            return self.ecto_to_db(col_type[1]) + "[]"
        if isinstance(col_type, tuple) and len(col_type) == 2 and col_type[0] == "map":
            return "jsonb"
        if isinstance(col_type, Atom):
            if col_type == "datetime":
                raise self.bad("the :datetime type in migrations is not supported, please use "
                               ":utc_datetime or :naive_datetime instead")
            return self._ECTO_TO_DB.get(col_type, str(col_type))
        if isinstance(col_type, Expr):
            raise _Dynamic()
        raise self.bad(f"unsupported type `{col_type!r}`: a migration type is an atom, "
                       "{:array, t}, {:map, t} or references(...)")

    def ref_type(self, ref: Reference) -> Any:
        if "type" in ref.opts:
            return ref.opts["type"]
        if "type" in self.config.foreign_key:
            return self.config.foreign_key["type"]
        if self.config.primary_key and "type" in self.config.primary_key:
            return self.config.primary_key["type"]
        return Atom("bigserial")

    def reference_column_type(self, ref_type: Any, opts: dict[str, Any]) -> str:
        # a column pointing at a serial key holds plain integers
        mapped = {"serial": "integer", "bigserial": "bigint", "identity": "bigint"}
        if isinstance(ref_type, Atom) and ref_type in mapped:
            return mapped[ref_type]
        return self.column_type(ref_type, opts)

    # -- references --

    def reference_expr(self, ref: Reference, table: Table, column: Any) -> str:
        ref = self.literal_opts(ref)
        pairs = ref.with_ if isinstance(ref.with_, list) else []
        ref_column = ref.opts.get("column", self.config.foreign_key.get("column", Atom("id")))
        here = [column, *(k for k, _ in pairs)]
        there = [ref_column, *(v for _, v in pairs)]
        prefix = ref.opts["prefix"] if "prefix" in ref.opts else self.prefix(table)
        return (f"CONSTRAINT {self.reference_name(ref, table, column)} FOREIGN KEY "
                f"({self.quote_names(here)}) REFERENCES {self.qualified(prefix, ref.table)}"
                f"({self.quote_names(there)}){self.match(ref.match)}"
                f"{self.on_delete(ref.on_delete)}{self.on_update(ref.on_update)}"
                f"{' NOT VALID' if ref.validate is False else ''}")

    def reference_name(self, ref: Reference, table: Table, column: Any) -> str:
        if ref.name is not None:
            return self.quote(ref.name)
        return self.quote(f"{self.name(table.name)}_{self.name(column)}_fkey")

    def drop_reference(self, source: Any, table: Table, column: Any) -> str:
        if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], Reference):
            source = source[0]
        if isinstance(source, Reference):
            return f"DROP CONSTRAINT {self.reference_name(source, table, column)}, "
        return ""

    def on_delete(self, value: Any) -> str:
        simple = {"nilify_all": " ON DELETE SET NULL", "default_all": " ON DELETE SET DEFAULT",
                  "delete_all": " ON DELETE CASCADE", "restrict": " ON DELETE RESTRICT",
                  "nothing": ""}
        if isinstance(value, Atom) and value in simple:
            return simple[value]
        if isinstance(value, tuple) and len(value) == 2 and value[0] in ("nilify", "default") \
                and isinstance(value[1], list):
            action = "SET NULL" if value[0] == "nilify" else "SET DEFAULT"
            return f" ON DELETE {action} ({self.quote_names(value[1])})"
        raise self.bad(f"unknown :on_delete value: {value!r}")

    def on_update(self, value: Any) -> str:
        simple = {"nilify_all": " ON UPDATE SET NULL", "update_all": " ON UPDATE CASCADE",
                  "restrict": " ON UPDATE RESTRICT", "nothing": ""}
        if isinstance(value, Atom) and value in simple:
            return simple[value]
        raise self.bad(f"unknown :on_update value: {value!r}")

    def match(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, Atom) and value in ("full", "simple", "partial"):
            return f" MATCH {value.upper()}"
        raise self.bad(f"unknown :match value: {value!r}")

    # -- defaults --

    def default_expr(self, value: Any, col_type: Any) -> str:
        if value is None:
            return " DEFAULT NULL"
        return " DEFAULT " + self.default_type(value, col_type)

    def default_type(self, value: Any, col_type: Any) -> str:
        if isinstance(value, list) and isinstance(col_type, tuple) and len(col_type) == 2 \
                and col_type[0] == "array":
            items = ",".join(self.default_type(v, col_type[1]) for v in value)
            return f"ARRAY[{items}]::{self.ecto_to_db(col_type)}"
        if isinstance(value, Expr):
            raise _Dynamic()
        if isinstance(value, str) and not isinstance(value, Atom):
            if "\0" in value:
                raise self.bad("default values are interpolated as UTF-8 strings and cannot "
                               "contain null bytes")
            return self.single_quote(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return _number(value)
        if isinstance(value, dict) and col_type == "map" and isinstance(col_type, Atom):
            return self.single_quote(json.dumps(_json_ready(value), separators=(",", ":"),
                                                ensure_ascii=False))
        if isinstance(value, Fragment):
            return value.sql
        raise self.bad(f"unknown default `{value!r}` for type `{col_type!r}`: :default may be a "
                       "string, number, boolean, list, map (when type is :map) or fragment(...)")

    # -- indexes and constraints --

    def create_index(self, op: CreateIndex) -> list[str]:
        index = self.literal_opts(op.index)
        if not isinstance(index.columns, list):
            raise _Dynamic()
        fields = ", ".join(self.index_expr(c) for c in index.columns)
        include = index.include
        if not isinstance(include, list):
            raise _Dynamic()
        include_sql = ", ".join(self.index_column(c) for c in include)
        if index.nulls_distinct is not None and index.unique is not True:
            raise self.bad("the `nulls_distinct` option can only be used with unique indexes")
        distinct = index.nulls_distinct
        nulls = " NULLS DISTINCT" if distinct is True else \
            " NULLS NOT DISTINCT" if distinct is False else ""
        using, where, options = index.using, index.where, index.options
        sql = (f"CREATE {'UNIQUE ' if _truthy(index.unique) else ''}INDEX "
               f"{'CONCURRENTLY ' if _truthy(index.concurrently) else ''}"
               f"{'IF NOT EXISTS ' if op.if_not_exists else ''}{self.quote(index.name)} ON "
               f"{'ONLY ' if _truthy(index.only) else ''}"
               f"{self.qualified(self.prefix(index), index.table)}"
               f"{' USING ' + self.text(using) if _truthy(using) else ''} ({fields})"
               f"{' INCLUDE (' + include_sql + ')' if include_sql else ''}{nulls}"
               f"{' WITH (' + self.text(options) + ')' if options is not None else ''}"
               f"{' WHERE ' + self.text(where) if _truthy(where) else ''}")
        out = [sql]
        if index.comment is not None:
            out.append(f"COMMENT ON INDEX {self.qualified(self.prefix(index), index.name)} "
                       f"IS {self.single_quote(index.comment)}")
        return out

    _DIRECTIONS = {"asc": "ASC", "asc_nulls_first": "ASC NULLS FIRST",
                   "asc_nulls_last": "ASC NULLS LAST", "desc": "DESC",
                   "desc_nulls_first": "DESC NULLS FIRST", "desc_nulls_last": "DESC NULLS LAST"}

    def index_expr(self, column: Any) -> str:
        if isinstance(column, tuple) and len(column) == 2:
            direction, column = column
            if direction not in self._DIRECTIONS:
                raise self.bad(f"unknown index direction {direction!r}")
            return f"{self.index_column(column)} {self._DIRECTIONS[direction]}"
        return self.index_column(column)

    def index_column(self, column: Any) -> str:
        # Ecto inserts strings as raw SQL (expressions) and quotes atoms (column names)
        if isinstance(column, str) and not isinstance(column, Atom):
            return column
        return self.quote(column)

    def create_constraint(self, constraint: Constraint) -> list[str]:
        c = self.literal_opts(constraint)
        table = self.qualified(self.prefix(c), c.table)
        check, exclude = c.check, c.exclude
        valid = " NOT VALID" if c.validate is False else ""
        if isinstance(check, Expr) or isinstance(exclude, Expr):
            raise _Dynamic()
        if isinstance(check, str) and isinstance(exclude, str):
            raise self.bad("a constraint cannot define both :check and :exclude")
        if isinstance(check, str):
            body = f"CONSTRAINT {self.quote(c.name)} CHECK ({check}){valid}"
        elif isinstance(exclude, str):
            body = f"CONSTRAINT {self.quote(c.name)} EXCLUDE USING {exclude}{valid}"
        else:
            raise self.bad("a constraint needs a :check or :exclude expression")
        out = [f"ALTER TABLE {table} ADD {body}"]
        if c.comment is not None:
            out.append(f"COMMENT ON CONSTRAINT {self.quote(c.name)} ON {table} "
                       f"IS {self.single_quote(c.comment)}")
        return out

    # -- names and literals --

    def literal_opts(self, obj: Any) -> Any:
        if DYNAMIC_OPTS in obj.opts:
            raise _Dynamic()
        return obj

    def prefix(self, obj: Any) -> Any:
        """Ecto.Migration.__prefix__/1: no prefix means the repo's default prefix."""
        prefix = obj.opts.get("prefix")
        return prefix if prefix is not None else self.config.default_prefix

    def table_name(self, table: Table) -> str:
        return self.qualified(self.prefix(self.literal_opts(table)), table.name)

    def drop_mode(self, mode: Any) -> str:
        if mode == "cascade":
            return " CASCADE"
        if mode == "restrict":
            return ""
        if isinstance(mode, Expr):
            raise _Dynamic()
        raise self.bad(f"unknown drop mode {mode!r}")

    def name(self, value: Any) -> str:
        if isinstance(value, Expr):
            raise _Dynamic()
        if isinstance(value, str):
            return str(value)
        raise self.bad(f"expected a name (atom or string), got {value!r}")

    def quote(self, value: Any) -> str:
        name = self.name(value)
        if '"' in name:
            raise self.bad(f'bad literal/field/index/table name {name!r} (" is not permitted)')
        return f'"{name}"'

    def qualified(self, prefix: Any, name: Any) -> str:
        return self.quote(name) if prefix is None else f"{self.quote(prefix)}.{self.quote(name)}"

    def quote_names(self, names: list[Any]) -> str:
        return ",".join(self.quote(n) for n in names)

    def single_quote(self, value: Any) -> str:
        return "'" + self.text(value).replace("'", "''") + "'"

    def text(self, value: Any) -> str:
        """Elixir's to_string/1 for the values options hold."""
        if isinstance(value, Expr):
            raise _Dynamic()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return _number(value)
        if isinstance(value, str):
            return str(value)
        raise self.bad(f"expected a string, got {value!r}")


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: int | float) -> str:
    """Elixir's to_string for numbers: floats in Erlang's shortest form (`1.0e3`, `0.5`)."""
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{value} is not a valid default")
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    if digits == "0":
        return "-0.0" if sign else "0.0"
    point = len(digit_tuple) + exponent  # digits before the decimal point
    sci_exp = point - 1
    sci = f"{digits[0]}.{digits[1:] or '0'}e{sci_exp}"
    if point <= 0:
        fixed = "0." + "0" * -point + digits
    elif point >= len(digits):
        fixed = digits + "0" * (point - len(digits)) + ".0"
    else:
        fixed = digits[:point] + "." + digits[point:]
    # ties go to the fixed form for large numbers (100.0) and to the exponent for small (1.0e-4)
    use_sci = len(sci) < len(fixed) or (len(sci) == len(fixed) and sci_exp < 0)
    return ("-" if sign else "") + (sci if use_sci else fixed)


def _json_ready(value: Any) -> Any:
    """A map default as Jason encodes it: small Erlang maps iterate in term order (numbers,
    then atoms, then strings), which is what the JSON text shows."""
    if isinstance(value, dict):
        def order(key: Any) -> tuple:
            rank = 0 if isinstance(key, (int, float)) and not isinstance(key, bool) else \
                1 if isinstance(key, Atom) or isinstance(key, bool) or key is None else 2
            return (rank, str(key) if rank else key)
        return {str(k) if not isinstance(k, bool) else ("true" if k else "false"):
                _json_ready(v) for k, v in sorted(value.items(), key=lambda kv: order(kv[0]))}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, (Expr, tuple, Fragment)):
        raise InputError(f"cannot encode {value!r} as JSON for a map default")
    return value
