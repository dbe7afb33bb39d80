from __future__ import annotations

from tools.rewrites.base import (
    Candidate, Detected, Example, Finding, Opportunity, Proposal, QueryContext, Run, Variant, display_params,
    order_is_total,
)
from tools.rewrites.catalog import WIDE_TYPES
from tools.rewrites.ecto import render
from tools.rewrites.sql import clone, colref, deparse, sources

MIN_WIDTH = 128  # bytes per row on average (pg_stats.avg_width) for a text column to count as wide
ALWAYS_WIDE = {"jsonb", "json", "bytea", "xml"}

_TABLES = {"articles": {"columns": {"id": "bigint not null", "title": "character varying(255) not null",
                                    "body": "text", "metadata": "jsonb",
                                    "inserted_at": "timestamp without time zone not null"},
                        "unique": [["id"]], "widths": {"body": 4200, "metadata": 900, "title": 40}}}


class UnusedWideColumns(Opportunity):
    """Fires on a SELECT of plain columns that returns wide ones: jsonb, json, bytea and xml
    always; text and tsvector when pg_stats puts their average width at 128 bytes or more.
    When the caller says which columns it reads (`used_columns`), only wide columns outside
    that list are dropped; otherwise every wide column is, and the finding says it assumed so.
    Queries with DISTINCT or GROUP BY are left alone (dropping a column changes what they group).

    Candidate: the same query without those columns. Verified on the same params: the rewrite
    must return exactly the original's rows projected on the columns kept. EXPLAIN ANALYZE does
    not detoast or send rows (no SERIALIZE before PostgreSQL 17), so the gain is measured as the
    wall time to fetch the rows, with the bytes each version returns.
    """

    id = "unused-wide-columns"
    title = "Wide columns the caller does not use"
    detects = "text, jsonb, bytea columns selected (Ecto's default: every field) but not used."
    why = (
        "Wide values live out of line (TOAST): each one selected is fetched, decompressed and sent, "
        "then dropped by the caller. A list page that shows titles can ship megabytes of bodies."
    )
    fix = (
        "Select the fields the caller uses: `select: [:id, :title]` or `select: struct(a, [:id, :title])` "
        "(structs with the other fields nil), or a separate schema for list views."
    )
    examples = [
        Example(sql='SELECT a0."id", a0."title", a0."body", a0."metadata", a0."inserted_at" FROM "articles" AS a0 '
                    'ORDER BY a0."inserted_at" DESC LIMIT 50',
                fires=True, tables=_TABLES,
                expect=["SELECT a0.id, a0.title, a0.inserted_at FROM articles AS a0"]),
        Example(sql='SELECT a0."id", a0."title" FROM "articles" AS a0', fires=False, tables=_TABLES),
        Example(sql='SELECT DISTINCT a0."body" FROM "articles" AS a0', fires=False, tables=_TABLES),
    ]

    def find(self, q: QueryContext) -> list[Detected]:
        stmt = q.stmt
        if stmt.distinctClause or stmt.groupClause:
            return []
        aliases = {s.alias: q.tables.get(s.relname or "") for s in sources(stmt)}
        drop: list[int] = []
        described: list[str] = []
        for i, target in enumerate(stmt.targetList or ()):
            ref = colref(target.val)
            if ref is None:
                continue
            alias = ref[0] or (next(iter(aliases)) if len(aliases) == 1 else None)
            table = aliases.get(alias or "")
            col = table.column(ref[1]) if table else None
            if col is None or not _wide(col):
                continue
            if q.used_columns is not None and ({ref[1], f"{table.name}.{ref[1]}"} & q.used_columns):
                continue
            drop.append(i)
            width = f", {col.avg_width:,} bytes a row on average" if col.avg_width else ""
            described.append(f"{table.name}.{col.name} ({col.type}{width})")
        if not drop or len(drop) == len(stmt.targetList):
            return []
        keep = [i for i in range(len(stmt.targetList)) if i not in drop]
        rewritten = clone(stmt)
        rewritten.targetList = tuple(rewritten.targetList[i] for i in keep)
        sql = deparse(rewritten)
        finding = Finding(id=self.id, title=f"Selects wide columns: {', '.join(d.split(' (')[0] for d in described)}",
                          evidence="returns " + "; ".join(described), relation=next(iter(q.tables), None))
        if q.used_columns is None:
            finding.notes.append("Assumed the caller reads none of these columns (no used_columns given); "
                                 "keep any it does read.")
        cand = Candidate(label="only the columns used", sql=sql, params=display_params(q.params),
                         ecto=render(rewritten, q.tables, select_struct=True),
                         semantics="the same rows, without the columns the caller drops anyway",
                         compare="ordered" if order_is_total(q) else "unordered", keep_columns=keep)
        return [Detected(finding, [Proposal(cand, Variant([Run(sql, q.params)]), wants_bytes=True)])]


def _wide(col) -> bool:
    base = col.base_type
    if col.is_array:
        return (col.avg_width or 0) >= MIN_WIDTH
    if base in ALWAYS_WIDE:
        return True
    if base in WIDE_TYPES:
        return (col.avg_width or 0) >= MIN_WIDTH
    return (col.avg_width or 0) >= 4 * MIN_WIDTH
