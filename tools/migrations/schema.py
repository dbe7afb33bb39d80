"""The database schema as the migrations so far leave it, folded from their actions.

Rules ask it what a single file cannot say: the type a `modify` changes from, whether a column
is the primary key, whether a validated `CHECK (col IS NOT NULL)` already proves a column has no
NULLs, and (from the final state) whether a foreign key column ever gets an index. Anything the
migrations did not say (a table made by `execute_file`, a helper macro) is simply unknown, and
rules treat unknown as "cannot tell", never as "safe".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.migrations.actions import (
    Action, AddCheckAct, AddColumnAct, AddExclusionAct, AddForeignKeyAct, AddPrimaryKeyAct,
    AddUniqueAct, AlterTypeAct, ColumnSpec, CreateIndexAct, CreateTableAct, DropColumnAct,
    DropConstraintAct, DropIndexAct, DropNotNullAct, DropTableAct, PgType, RenameColumnAct,
    RenameTableAct, SetNotNullAct, ValidateAct,
)


@dataclass
class ColumnState:
    type: PgType | None
    not_null: bool = False
    primary_key: bool = False


@dataclass
class ConstraintState:
    kind: str  # "check", "foreign_key", "unique", "exclusion", "primary_key"
    validated: bool
    expr: str = ""
    columns: tuple[str, ...] = ()


@dataclass
class TableState:
    columns: dict[str, ColumnState] = field(default_factory=dict)
    constraints: dict[str, ConstraintState] = field(default_factory=dict)
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> columns


_NOT_NULL_CHECK = re.compile(r"^\(*\s*\"?(\w+)\"?\s+IS\s+NOT\s+NULL\s*\)*$", re.IGNORECASE)


class SchemaState:
    def __init__(self) -> None:
        self.tables: dict[str, TableState] = {}
        self.index_table: dict[str, str] = {}  # index name -> table

    def table(self, name: str | None) -> TableState | None:
        return self.tables.get(name) if name else None

    def column(self, table: str | None, column: str) -> ColumnState | None:
        t = self.table(table)
        return t.columns.get(column) if t else None

    def proven_not_null(self, table: str | None, column: str) -> bool:
        """A validated CHECK (column IS NOT NULL) exists: SET NOT NULL then skips its scan (PG12+)."""
        t = self.table(table)
        if t is None:
            return False
        for c in t.constraints.values():
            if c.kind == "check" and c.validated:
                m = _NOT_NULL_CHECK.match(c.expr.strip())
                if m and m.group(1) == column:
                    return True
        return False

    def has_leading_index(self, table: str | None, column: str) -> bool:
        t = self.table(table)
        if t is None:
            return False
        if any(cols and cols[0] == column for cols in t.indexes.values()):
            return True
        return any(c.kind in ("primary_key", "unique") and c.columns[:1] == (column,)
                   for c in t.constraints.values())

    # -- folding --

    def apply(self, act: Action) -> None:
        handler = getattr(self, "_" + type(act).__name__, None)
        if handler is not None:
            handler(act)

    def _ensure(self, table: str | None) -> TableState | None:
        if not table:
            return None
        return self.tables.setdefault(table, TableState())

    def _add_column(self, t: TableState, spec: ColumnSpec) -> None:
        t.columns[spec.name] = ColumnState(spec.type, spec.not_null or spec.primary_key,
                                           spec.primary_key)
        if spec.primary_key:
            t.constraints["__pkey__"] = ConstraintState("primary_key", True, columns=(spec.name,))

    def _CreateTableAct(self, act: CreateTableAct) -> None:
        t = TableState()
        self.tables[act.table] = t
        if act.implicit_pk is not None:
            self._add_column(t, act.implicit_pk)
        for col in act.columns:
            self._add_column(t, col)
        pks = tuple(c.name for c in ([act.implicit_pk] if act.implicit_pk else []) + act.columns
                    if c.primary_key)
        if pks:
            t.constraints["__pkey__"] = ConstraintState("primary_key", True, columns=pks)

    def _AddColumnAct(self, act: AddColumnAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            self._add_column(t, act.column)

    def _AlterTypeAct(self, act: AlterTypeAct) -> None:
        t = self._ensure(act.table)
        if t is not None and act.new is not None:
            col = t.columns.setdefault(act.column, ColumnState(None))
            col.type = act.new

    def _SetNotNullAct(self, act: SetNotNullAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            t.columns.setdefault(act.column, ColumnState(None)).not_null = True

    def _DropNotNullAct(self, act: DropNotNullAct) -> None:
        col = self.column(act.table, act.column)
        if col is not None:
            col.not_null = False

    def _DropColumnAct(self, act: DropColumnAct) -> None:
        t = self.table(act.table)
        if t is not None:
            t.columns.pop(act.column, None)
            for name, cols in list(t.indexes.items()):
                if act.column in cols:
                    del t.indexes[name]

    def _DropTableAct(self, act: DropTableAct) -> None:
        self.tables.pop(act.table, None)

    def _RenameColumnAct(self, act: RenameColumnAct) -> None:
        t = self.table(act.table)
        if t is not None and act.column in t.columns:
            t.columns[act.to] = t.columns.pop(act.column)
            for name, cols in t.indexes.items():
                t.indexes[name] = tuple(act.to if c == act.column else c for c in cols)

    def _RenameTableAct(self, act: RenameTableAct) -> None:
        if act.table in self.tables:
            self.tables[act.to] = self.tables.pop(act.table)

    def _CreateIndexAct(self, act: CreateIndexAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            # CREATE INDEX without a name: PostgreSQL makes one up; any unique key will do here
            name = act.name or f"__unnamed_{len(t.indexes)}"
            t.indexes[name] = act.columns
            self.index_table[name] = act.table

    def _DropIndexAct(self, act: DropIndexAct) -> None:
        table = act.table or self.index_table.get(act.name)
        t = self.table(table)
        if t is not None:
            t.indexes.pop(act.name, None)

    def _AddCheckAct(self, act: AddCheckAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            t.constraints[act.name] = ConstraintState("check", act.validated, act.expr)

    def _AddForeignKeyAct(self, act: AddForeignKeyAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            t.constraints[act.fk.name] = ConstraintState("foreign_key", act.fk.validated,
                                                         columns=act.fk.columns)

    def _AddUniqueAct(self, act: AddUniqueAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            t.constraints[act.name or f"{act.table}_unique"] = ConstraintState(
                "unique", True, columns=act.columns)

    def _AddPrimaryKeyAct(self, act: AddPrimaryKeyAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            t.constraints["__pkey__"] = ConstraintState("primary_key", True, columns=act.columns)
            for c in act.columns:
                t.columns.setdefault(c, ColumnState(None)).primary_key = True

    def _AddExclusionAct(self, act: AddExclusionAct) -> None:
        t = self._ensure(act.table)
        if t is not None:
            t.constraints[act.name] = ConstraintState("exclusion", True)

    def _ValidateAct(self, act: ValidateAct) -> None:
        t = self.table(act.table)
        if t is not None and act.name in t.constraints:
            t.constraints[act.name].validated = True

    def _DropConstraintAct(self, act: DropConstraintAct) -> None:
        t = self.table(act.table)
        if t is not None:
            t.constraints.pop(act.name, None)
