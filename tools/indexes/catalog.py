"""What the advisor needs to know about the tables a workload touches, read from the catalog.

Sizes, row counts and the visibility map (index-only scans are costed with `relallvisible`),
column statistics (to order equality columns and to keep wide columns out of INCLUDE), the
existing indexes (so candidates they already serve are dropped), and the write counters of
pg_stat_user_tables (a table with heavy writes pays for every index it gets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg

from tools.explain.ecto_fix import quote_ident


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    avg_width: int | None  # bytes, from pg_stats; None before ANALYZE
    n_distinct: float | None  # an absolute estimate (pg_stats' negative fractions resolved)
    fixed_width: int  # pg_attribute.attlen: -1 for varlena types


@dataclass(frozen=True)
class ExistingIndex:
    name: str
    keys: tuple[str, ...]  # columns or expressions, " DESC" appended for descending keys
    include: tuple[str, ...]
    where: str | None
    unique: bool
    primary: bool
    constraint: bool  # backs a PRIMARY KEY, UNIQUE or EXCLUDE constraint
    valid: bool
    method: str
    size_bytes: int
    scans: int  # pg_stat_user_indexes.idx_scan

    @property
    def plain(self) -> bool:
        """Droppable if a wider index makes it redundant: no constraint, no uniqueness to enforce."""
        return self.method == "btree" and self.valid and not (self.unique or self.primary or self.constraint)


@dataclass
class TableInfo:
    oid: int
    schema: str
    name: str
    kind: str  # pg_class.relkind
    pages: int
    tuples: float
    all_visible: int
    columns: dict[str, Column] = field(default_factory=dict)
    indexes: list[ExistingIndex] = field(default_factory=list)
    inserts: int = 0
    updates: int = 0
    hot_updates: int = 0
    deletes: int = 0

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def index_writes(self) -> int:
        """Rows that added an entry to every index: inserts and non-HOT updates (deletes add none)."""
        return self.inserts + max(self.updates - self.hot_updates, 0)

    @property
    def visible_fraction(self) -> float:
        return min(self.all_visible / self.pages, 1.0) if self.pages > 0 else 1.0


def norm_key(text: str) -> str:
    """Compare index keys the way PostgreSQL prints them and the way queries spell them alike:
    `lower((email)::text)` and `lower(email)` are the same key on a varchar column."""
    t = text.lower()
    t = re.sub(r"::(text|character varying|varchar|bpchar|name)\b", "", t)
    return re.sub(r"[\s\"()]", "", t)


def resolve(conn: psycopg.Connection, schema: str | None, name: str) -> int | None:
    target = f"{quote_ident_always(schema)}.{quote_ident_always(name)}" if schema else quote_ident_always(name)
    row = conn.execute("SELECT to_regclass(%s)::oid", (target,)).fetchone()
    return row[0] if row and row[0] else None


def quote_ident_always(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_table(conn: psycopg.Connection, oid: int) -> TableInfo:
    row = conn.execute(
        """SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpages, c.reltuples, c.relallvisible,
                  coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0), coalesce(s.n_tup_hot_upd, 0),
                  coalesce(s.n_tup_del, 0)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
           WHERE c.oid = %s""", (oid,)).fetchone()
    info = TableInfo(oid=row[0], schema=row[1], name=row[2], kind=row[3], pages=int(row[4]),
                     tuples=max(float(row[5]), 0.0), all_visible=int(row[6]), inserts=int(row[7]),
                     updates=int(row[8]), hot_updates=int(row[9]), deletes=int(row[10]))
    for name, typ, width, distinct, attlen in conn.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod), st.avg_width, st.n_distinct, a.attlen
           FROM pg_attribute a
           LEFT JOIN LATERAL (SELECT s.avg_width, s.n_distinct FROM pg_stats s
                              WHERE s.schemaname = %s AND s.tablename = %s AND s.attname = a.attname
                              ORDER BY s.inherited LIMIT 1) st ON true
           WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY a.attnum""", (info.schema, info.name, oid)):
        nd = None
        if distinct is not None:
            nd = float(distinct) if distinct >= 0 else -float(distinct) * info.tuples
        info.columns[name] = Column(name, typ, width, nd, int(attlen))
    for (iname, unique, primary, valid, nkey, method, pred, options, constraint, size, scans,
         defs) in conn.execute(
        """SELECT i.relname, x.indisunique, x.indisprimary, x.indisvalid, x.indnkeyatts, am.amname,
                  pg_get_expr(x.indpred, x.indrelid, true), x.indoption::int2[],
                  EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid),
                  pg_relation_size(i.oid), coalesce(ui.idx_scan, 0),
                  array(SELECT pg_get_indexdef(x.indexrelid, k, true)
                        FROM generate_series(1, x.indnatts) k ORDER BY k)
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
           LEFT JOIN pg_stat_user_indexes ui ON ui.indexrelid = x.indexrelid
           WHERE x.indrelid = %s ORDER BY i.relname""", (oid,)):
        keys = []
        for k, text in enumerate(defs[:nkey]):
            desc = bool(options and k < len(options) and options[k] & 1)
            keys.append(text + (" DESC" if desc else ""))
        info.indexes.append(ExistingIndex(
            name=iname, keys=tuple(keys), include=tuple(defs[nkey:]), where=pred, unique=unique,
            primary=primary, constraint=constraint, valid=valid, method=method, size_bytes=int(size),
            scans=int(scans)))
    return info


def describe(info: TableInfo) -> str:
    return quote_ident(info.name) if info.schema == "public" else f"{quote_ident(info.schema)}.{quote_ident(info.name)}"
