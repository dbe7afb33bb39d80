"""What the catalog says about the tables a query reads: column types and nullability, the
planner's statistics (average width, NULL fraction), unique keys and foreign keys.

Rewrites lean on these facts to be correct, not just fast: NOT IN and NOT EXISTS agree only
when the column cannot be NULL; DISTINCT can be dropped only when a unique key is selected; a
keyset cursor needs a total order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

WIDE_TYPES = {"text", "jsonb", "json", "bytea", "xml", "tsvector"}


@dataclass
class Column:
    name: str
    type: str  # format_type(), e.g. "bigint", "character varying(255)", "jsonb"
    not_null: bool = False
    avg_width: int | None = None  # bytes, from pg_stats (None before ANALYZE)
    null_frac: float | None = None
    n_distinct: float | None = None
    correlation: float | None = None

    @property
    def base_type(self) -> str:
        return self.type.split("(")[0].removesuffix("[]").strip()

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]")


@dataclass
class ForeignKey:
    columns: list[str]
    ref_table: str
    ref_columns: list[str]


@dataclass
class Table:
    name: str
    schema: str = "public"
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    unique_keys: list[list[str]] = field(default_factory=list)  # the primary key included
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    rows: float = 0.0  # pg_class.reltuples
    kind: str = "r"  # pg_class.relkind: r table, p partitioned, m materialized view, v view

    def column(self, name: str) -> Column | None:
        return self.columns.get(name)

    def not_null(self, name: str) -> bool:
        col = self.columns.get(name)
        return bool(col and col.not_null)

    def total_keys(self) -> list[list[str]]:
        """Unique keys whose columns are all NOT NULL: they identify a row, NULLs never repeat."""
        return [k for k in self.unique_keys if all(self.not_null(c) for c in k)]

    def is_unique(self, columns: Iterable[str]) -> bool:
        """Do these columns contain a NOT NULL unique key (so rows are distinct by them)?"""
        cols = set(columns)
        return any(set(key) <= cols for key in self.total_keys())

    def fk_for(self, column: str) -> ForeignKey | None:
        for fk in self.foreign_keys:
            if fk.columns == [column]:
                return fk
        return None

    @classmethod
    def from_spec(cls, name: str, spec: dict[str, Any]) -> "Table":
        """A table described by hand, for examples and tests:
        {"columns": {"id": "bigint not null", "body": "text"}, "unique": [["id"]],
         "fks": {"post_id": "posts.id"}, "widths": {"body": 2000}, "rows": 1e6}"""
        columns = {}
        for col, text in spec.get("columns", {}).items():
            not_null = text.endswith(" not null")
            type_ = text.removesuffix(" not null")
            columns[col] = Column(col, type_, not_null, spec.get("widths", {}).get(col))
        unique = [list(k) for k in spec.get("unique", [])]
        fks = [ForeignKey([col], ref.split(".")[0], [ref.split(".")[1]]) for col, ref in spec.get("fks", {}).items()]
        return cls(name, columns=columns, primary_key=unique[0] if unique else [], unique_keys=unique,
                   foreign_keys=fks, rows=float(spec.get("rows", 0)), kind=spec.get("kind", "r"))


def load_tables(conn: Any, names: Iterable[str]) -> dict[str, Table]:
    """The tables (and views) among `names` that exist on the search path, by name."""
    tables: dict[str, Table] = {}
    for name in sorted(set(names)):
        row = conn.execute(
            "SELECT c.oid, n.nspname, c.relkind, c.reltuples FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)", (quote(name),)).fetchone()
        if row is None:
            continue
        oid, schema, kind, reltuples = row
        table = Table(name, schema, rows=max(float(reltuples or 0), 0.0), kind=str(kind))
        for col, type_, not_null, width, null_frac, n_distinct, corr in conn.execute("""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                       s.avg_width, s.null_frac, s.n_distinct, s.correlation
                FROM pg_attribute a
                LEFT JOIN pg_stats s ON s.schemaname = %s AND s.tablename = %s AND s.attname = a.attname
                     AND NOT s.inherited
                WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum""", (schema, name, oid)).fetchall():
            table.columns[col] = Column(col, type_, bool(not_null), width, null_frac, n_distinct, corr)
        for is_primary, cols in conn.execute("""
                SELECT x.indisprimary, array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, i)
                                             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                                             ORDER BY k.i)
                FROM pg_index x
                WHERE x.indrelid = %s AND x.indisunique AND x.indisvalid AND x.indpred IS NULL
                      AND x.indexprs IS NULL
                ORDER BY x.indisprimary DESC, x.indexrelid""", (oid,)).fetchall():
            cols = list(cols)
            if is_primary:
                table.primary_key = cols
            table.unique_keys.append(cols)
        for cols, ref, ref_cols in conn.execute("""
                SELECT array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, i)
                             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.i),
                       c.confrelid::regclass::text,
                       array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(attnum, i)
                             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.i)
                FROM pg_constraint c WHERE c.conrelid = %s AND c.contype = 'f'""", (oid,)).fetchall():
            table.foreign_keys.append(ForeignKey(list(cols), ref.split(".")[-1].strip('"'), list(ref_cols)))
        tables[name] = table
    return tables


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
