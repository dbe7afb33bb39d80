"""Indexes as the catalog describes them, and as Ecto would write them.

Several checks (unused, duplicate, invalid, bloat) both compare index definitions and hand back a
migration that drops or rebuilds one, so the catalog query and the rendering live here once. An
index is rendered the way `create index(...)` spells it: plain columns as atoms, anything else
(expressions, DESC, an operator class) as raw SQL strings, which Ecto passes through, and its
real name whenever it is not Ecto's default, so the migration touches exactly that index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tools.ecto.migration import default_index_name
from tools.explain.ecto_fix import elixir_atom, elixir_string, is_column_name, migration_module, quote_ident
from tools.health.model import HealthFix, qualified

if TYPE_CHECKING:
    from tools.health.runner import HealthDB

SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
USER_SCHEMA = (f"n.nspname NOT IN {SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg_toast%%' "
               "AND n.nspname NOT LIKE 'pg_temp%%'")

INDEX_SQL = f"""
SELECT x.indexrelid AS oid, x.indrelid AS table_oid, n.nspname AS schema, t.relname AS table, i.relname AS name,
       am.amname AS am, x.indisunique AS unique, x.indisprimary AS primary, x.indisvalid AS valid,
       x.indisready AS ready, x.indnkeyatts AS nkey, x.indnatts AS natts,
       x.indkey::text AS indkey, x.indoption::text AS indoption, x.indclass::text AS indclass,
       x.indcollation::text AS indcollation,
       pg_get_expr(x.indpred, x.indrelid) AS predicate, pg_get_expr(x.indexprs, x.indrelid) AS exprs,
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnatts) k ORDER BY k)
         AS keys,
       ARRAY(SELECT a.attname FROM unnest(string_to_array(x.indkey::text, ' ')::int2[]) WITH ORDINALITY u(attnum, k)
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.attnum ORDER BY u.k) AS attnames,
       ARRAY(SELECT CASE WHEN oc.opcdefault THEN '' ELSE oc.opcname END
             FROM unnest(string_to_array(x.indclass::text, ' ')::oid[]) WITH ORDINALITY u(cls, k)
             JOIN pg_opclass oc ON oc.oid = u.cls ORDER BY u.k) AS opclasses,
       pg_get_indexdef(x.indexrelid) AS definition,
       pg_relation_size(x.indexrelid) AS bytes, i.reltuples AS index_tuples, i.relpages AS pages,
       t.reltuples AS table_tuples,
       coalesce(s.idx_scan, 0) AS scans,
       (SELECT c.contype FROM pg_constraint c
         WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x') LIMIT 1)
         AS constraint_type,
       (SELECT c.conname FROM pg_constraint c
         WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x') LIMIT 1)
         AS constraint_name
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = x.indexrelid
WHERE {USER_SCHEMA} AND t.relkind IN ('r', 'p', 'm')
"""


@dataclass
class IndexInfo:
    oid: int
    table_oid: int
    schema: str
    table: str
    name: str
    am: str
    unique: bool
    primary: bool
    valid: bool
    nkey: int
    natts: int
    attnums: list[int]  # 0 for an expression
    options: list[int]  # indoption per key column: bit 1 DESC, bit 2 NULLS FIRST
    classes: list[int]
    collations: list[int]
    predicate: str | None
    exprs: str | None
    keys: list[str]  # pg_get_indexdef per column: `a`, `lower(b)`
    attnames: list[str | None]
    opclasses: list[str]  # '' for the default operator class
    definition: str
    bytes: int
    scans: int
    index_tuples: float
    pages: int
    table_tuples: float
    constraint_type: str | None = None
    constraint_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "IndexInfo":
        def ints(text: str | None) -> list[int]:
            return [int(v) for v in (text or "").split()]

        return cls(oid=row["oid"], table_oid=row["table_oid"], schema=row["schema"], table=row["table"],
                   name=row["name"], am=row["am"], unique=row["unique"], primary=row["primary"],
                   valid=row["valid"], nkey=row["nkey"], natts=row["natts"], attnums=ints(row["indkey"]),
                   options=ints(row["indoption"]), classes=ints(row["indclass"]),
                   collations=ints(row["indcollation"]), predicate=row["predicate"], exprs=row["exprs"],
                   keys=list(row["keys"]), attnames=list(row["attnames"]), opclasses=list(row["opclasses"]),
                   definition=row["definition"], bytes=row["bytes"], scans=row["scans"],
                   index_tuples=row["index_tuples"], pages=row["pages"], table_tuples=row["table_tuples"],
                   constraint_type=row["constraint_type"], constraint_name=row["constraint_name"])

    @property
    def qualified_name(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def qualified_table(self) -> str:
        return qualified(self.schema, self.table)

    @property
    def key_attnums(self) -> list[int]:
        return self.attnums[: self.nkey]

    def column_sql(self, k: int) -> str:
        """Column k (0-based) as it appears in CREATE INDEX: key, operator class, order."""
        text = self.keys[k]
        if k < self.nkey:
            if k < len(self.opclasses) and self.opclasses[k]:
                text += f" {self.opclasses[k]}"
            opt = self.options[k] if k < len(self.options) else 0
            desc, nulls_first = bool(opt & 1), bool(opt & 2)
            if desc:
                text += " DESC"
            if nulls_first != desc:  # ASC defaults to NULLS LAST, DESC to NULLS FIRST
                text += " NULLS FIRST" if nulls_first else " NULLS LAST"
        return text

    def ecto_column(self, k: int) -> str:
        plain = self.attnames[k] if k < len(self.attnames) else None
        sql = self.column_sql(k)
        if plain and sql == quote_ident(plain) or plain and sql == plain:
            return elixir_atom(plain) if is_column_name(plain) else elixir_string(plain)
        return elixir_string(sql)

    def ecto_columns(self) -> list[str]:
        return [self.ecto_column(k) for k in range(self.nkey)]

    def default_name(self) -> str:
        cols = [self.attnames[k] or self.column_sql(k) for k in range(self.nkey)]
        return str(default_index_name(self.table, cols))

    def ecto_index(self, *, concurrently: bool = True) -> str:
        """`index(:orders, [:customer_id], concurrently: true)` with whatever else it takes to be
        this very index."""
        table = elixir_atom(self.table) if re.fullmatch(r"[a-z_][a-zA-Z0-9_]*", self.table) else \
            elixir_string(self.table)
        args = [table, "[" + ", ".join(self.ecto_columns()) + "]"]
        if self.name != self.default_name():
            args.append(f"name: {elixir_atom(self.name)}")
        if self.unique:
            args.append("unique: true")
        if self.schema != "public":
            args.append(f"prefix: {elixir_string(self.schema)}")
        if self.am != "btree":
            args.append(f"using: {elixir_string(self.am)}")
        if self.natts > self.nkey:
            include = [self.ecto_column(k) for k in range(self.nkey, self.natts)]
            args.append(f"include: [{', '.join(include)}]")
        if self.predicate:
            args.append(f"where: {elixir_string(self.predicate)}")
        if concurrently:
            args.append("concurrently: true")
        return f"index({', '.join(args)})"

    def sql_name(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}" if self.schema != "public" else \
            quote_ident(self.name)


def indexes(db: "HealthDB", where: str = "TRUE", params: Any = None) -> list[IndexInfo]:
    return [IndexInfo.from_row(r) for r in db.rows(INDEX_SQL + f" AND ({where}) ORDER BY n.nspname, t.relname, i.relname",
                                                     params)]


def module_name(verb: str, index: IndexInfo) -> str:
    return f"{verb}_{index.name}"


def drop_index_fix(index: IndexInfo, *, comment: str | None = None) -> HealthFix:
    """A migration that drops the index concurrently; `change` can reverse it because the drop
    carries the index's whole definition."""
    ecto = migration_module(module_name("drop", index), [f"drop {index.ecto_index()}"], comment=comment)
    sql = f"DROP INDEX CONCURRENTLY IF EXISTS {index.sql_name()};"
    return HealthFix(ecto=ecto, sql=sql)


def rebuild_index_fix(index: IndexInfo, *, comment: str | None = None) -> HealthFix:
    """Drop and create again, concurrently: for an index left INVALID by a failed build."""
    body = [f"drop_if_exists {index.ecto_index()}", f"create {index.ecto_index()}"]
    ecto = up_down_module(module_name("rebuild", index), body, [], comment=comment)
    create_sql = re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", index.definition)
    sql = f"DROP INDEX CONCURRENTLY IF EXISTS {index.sql_name()};\n{create_sql};"
    return HealthFix(ecto=ecto, sql=sql)


def reindex_fix(index: IndexInfo, *, comment: str | None = None) -> HealthFix:
    stmt = f"REINDEX INDEX CONCURRENTLY {index.sql_name()}"
    ecto = up_down_module(module_name("reindex", index), [f"execute {elixir_string(stmt)}"], [], comment=comment)
    return HealthFix(ecto=ecto, sql=stmt + ";",
                     action="or run the SQL once by hand: REINDEX CONCURRENTLY builds a fresh copy and swaps it in "
                            "without blocking reads or writes (PostgreSQL 12+)")


def up_down_module(name: str, up: list[str], down: list[str], *, concurrent: bool = True,
                   comment: str | None = None) -> str:
    """Like ecto_fix.migration_module, for changes `change` cannot reverse."""
    text = migration_module(name, ["__UP__"], concurrent=concurrent)
    if len(up) > 1:  # several concurrent statements are fine; what must stay out is anything else
        text = text.replace("keep this migration to this one statement.", "keep anything else out of this migration.")
    head, _, tail = text.partition("  def change do\n    __UP__\n  end")
    lines = ["  def up do"]
    if comment:
        lines += [f"    # {c}" for c in comment.splitlines()]
    lines += [f"    {u}" for u in up] + ["  end", "", "  def down do"]
    lines += [f"    {d}" for d in down] or []
    if not down:
        lines.append("    :ok")
    lines.append("  end")
    return head + "\n".join(lines) + tail


def execute_fix(name: str, up: str, down: str | None, *, comment: str | None = None) -> str:
    """A migration of one reversible `execute`, in a normal transaction."""
    body = f"execute {elixir_string(up)}" + (f", {elixir_string(down)}" if down else "")
    return migration_module(name, [body], concurrent=False, comment=comment)


def table_sql(schema: str, table: str) -> str:
    return quote_ident(table) if schema == "public" else f"{quote_ident(schema)}.{quote_ident(table)}"


def ecto_table(table: str) -> str:
    return elixir_atom(table) if re.fullmatch(r"[a-z_][a-zA-Z0-9_]*", table) else elixir_string(table)
