"""Bloat estimates from pg_stats, for tables and btree indexes, without reading the data.

The estimate is the classic one (PgHero's and pg-index-health's index bloat, ioguix's queries):
from the row count and the average column widths in pg_stats, compute how many pages the live
rows need at the relation's fillfactor, and compare with the pages it has. The layout constants
are PostgreSQL's: 24-byte page header, 4-byte line pointers, 23-byte heap tuple header, 8-byte
index tuple header (+4 for a null bitmap), 16-byte btree special space, 8-byte alignment, a
fillfactor of 100 for tables and 90 for btree indexes. It ignores TOAST and btree deduplication
(PostgreSQL 13+), so it can only underestimate the bloat of an index with many duplicates.

pg_stats shows a column only to roles that may SELECT it: for a pg_monitor role the estimate is
impossible, and the checks report which tables they could not estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.health.catalog import USER_SCHEMA, IndexInfo, indexes
from tools.health.model import qualified

if TYPE_CHECKING:
    from tools.health.runner import HealthDB

PAGE_HEADER = 24
LINE_POINTER = 4
HEAP_TUPLE_HEADER = 23
INDEX_TUPLE_HEADER = 8
INDEX_NULL_BITMAP = 4
BTREE_SPECIAL = 16
MAXALIGN = 8
BTREE_FILLFACTOR = 90
HEAP_FILLFACTOR = 100


def align(n: float) -> int:
    return int(math.ceil(n / MAXALIGN) * MAXALIGN)


@dataclass
class Estimate:
    pages: int
    expected_pages: int
    block_size: int

    @property
    def wasted_bytes(self) -> int:
        return max(0, self.pages - self.expected_pages) * self.block_size

    @property
    def ratio(self) -> float:
        return self.wasted_bytes / (self.pages * self.block_size) if self.pages else 0.0


def heap_estimate(*, rows: float, pages: int, data_width: float, natts: int, has_nulls: bool,
                  fillfactor: int = HEAP_FILLFACTOR, block_size: int = 8192) -> Estimate:
    header = align(HEAP_TUPLE_HEADER + (math.ceil(natts / 8) if has_nulls else 0))
    tuple_bytes = header + align(data_width) + LINE_POINTER
    per_page = max(1, math.floor((block_size - PAGE_HEADER) * fillfactor / 100 / tuple_bytes))
    expected = math.ceil(max(rows, 0) / per_page) if rows > 0 else 0
    return Estimate(pages, max(expected, 1), block_size)


def btree_estimate(*, rows: float, pages: int, data_width: float, has_nulls: bool,
                   fillfactor: int = BTREE_FILLFACTOR, block_size: int = 8192) -> Estimate:
    header = align(INDEX_TUPLE_HEADER + (INDEX_NULL_BITMAP if has_nulls else 0))
    tuple_bytes = header + align(data_width) + LINE_POINTER
    usable = (block_size - PAGE_HEADER - BTREE_SPECIAL) * fillfactor / 100
    per_page = max(2, math.floor(usable / tuple_bytes))
    leaf = math.ceil(max(rows, 0) / per_page) if rows > 0 else 1
    total, level = leaf, leaf
    while level > 1:  # the upper levels hold one downlink per page below
        level = math.ceil(level / per_page)
        total += level
    return Estimate(pages, total + 1, block_size)  # + the metapage


def _fillfactor(reloptions: list[str] | None, default: int) -> int:
    for opt in reloptions or []:
        key, _, value = opt.partition("=")
        if key == "fillfactor":
            try:
                return int(value)
            except ValueError:
                pass
    return default


def _stats(db: "HealthDB", table_oids: list[int]) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
    """(schema, table) -> attname -> (avg_width, null_frac)."""
    rows = db.rows("""
        SELECT s.schemaname, s.tablename, s.attname, s.avg_width, s.null_frac
        FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
        WHERE c.oid = ANY(%s) AND NOT s.inherited""", (table_oids,))
    out: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for r in rows:
        out.setdefault((r["schemaname"], r["tablename"]), {})[r["attname"]] = (r["avg_width"], r["null_frac"])
    return out


def table_bloat(db: "HealthDB", min_pages: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Tables of at least `min_pages`, with their estimate; and the tables pg_stats hid."""
    tables = db.rows(f"""
        SELECT c.oid, n.nspname AS schema, c.relname AS table, c.reltuples AS rows, c.relpages AS pages,
               c.reloptions, has_table_privilege(c.oid, 'SELECT') AS readable,
               current_setting('block_size')::int AS block_size,
               ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                     AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
               coalesce(st.n_dead_tup, 0) AS dead_rows, coalesce(st.n_live_tup, 0) AS live_rows,
               st.last_vacuum, st.last_autovacuum
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_stat_all_tables st ON st.relid = c.oid
        WHERE c.relkind IN ('r', 'm') AND c.relpages >= %s AND {USER_SCHEMA}
        ORDER BY c.relpages DESC""", (min_pages,))
    hidden = [qualified(t["schema"], t["table"]) for t in tables if not t["readable"]]
    readable = [t for t in tables if t["readable"]]
    stats = _stats(db, [t["oid"] for t in readable]) if readable else {}
    out = []
    for t in readable:
        cols = stats.get((t["schema"], t["table"]), {})
        if t["rows"] < 0 or any(c not in cols for c in t["columns"]):
            continue  # never analysed, or columns without statistics: stale-stats reports those
        width = sum(cols[c][0] for c in t["columns"])
        nulls = any(cols[c][1] > 0 for c in t["columns"])
        est = heap_estimate(rows=t["rows"], pages=t["pages"], data_width=width, natts=len(t["columns"]),
                            has_nulls=nulls, fillfactor=_fillfactor(t["reloptions"], HEAP_FILLFACTOR),
                            block_size=t["block_size"])
        out.append({**t, "estimate": est, "row_width": width})
    return out, hidden


def index_bloat(db: "HealthDB", min_pages: int) -> tuple[list[tuple[IndexInfo, Estimate]], list[str]]:
    """Btree indexes of at least `min_pages`, with their estimate; and the tables pg_stats hid."""
    found = indexes(db, "x.indisvalid AND am.amname = 'btree' AND i.relpages >= %(pages)s",
                    {"pages": min_pages})
    if not found:
        return [], []
    meta = db.rows("""
        SELECT i.oid, i.reloptions, has_table_privilege(x.indrelid, 'SELECT') AS readable,
               current_setting('block_size')::int AS block_size,
               ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.oid ORDER BY a.attnum) AS index_columns
        FROM pg_class i JOIN pg_index x ON x.indexrelid = i.oid WHERE i.oid = ANY(%s)""", ([f.oid for f in found],))
    by_oid = {m["oid"]: m for m in meta}
    hidden = sorted({f.qualified_table for f in found if not by_oid[f.oid]["readable"]})
    readable = [f for f in found if by_oid[f.oid]["readable"]]
    stats = _stats(db, list({f.table_oid for f in readable} | {f.oid for f in readable})) if readable else {}
    out = []
    for idx in readable:
        m = by_oid[idx.oid]
        table_stats = stats.get((idx.schema, idx.table), {})
        index_stats = stats.get((idx.schema, idx.name), {})
        widths, nulls, known = 0.0, False, True
        for k in range(idx.natts):
            name = idx.attnames[k] if k < len(idx.attnames) else None
            entry = table_stats.get(name) if name else index_stats.get(m["index_columns"][k])
            if entry is None:
                known = False
                break
            widths += entry[0]
            nulls = nulls or entry[1] > 0
        if not known:
            continue
        rows = idx.index_tuples if idx.index_tuples >= 0 else idx.table_tuples
        if rows < 0:
            continue
        est = btree_estimate(rows=rows, pages=idx.pages, data_width=widths, has_nulls=nulls,
                             fillfactor=_fillfactor(m["reloptions"], BTREE_FILLFACTOR), block_size=m["block_size"])
        out.append((idx, est))
    return out, hidden
