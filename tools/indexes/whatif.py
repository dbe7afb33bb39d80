"""Testing an index idea without building it: create it hypothetically, re-explain, compare.

This is the `hypothetical_index` tool's engine: the model (or a person) names indexes and
queries; each query is planned with today's indexes, then with the hypothetical ones added, in a
READ ONLY transaction that is rolled back, HypoPG reset before the rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from tools.db.connect import connect, describe_error
from tools.errors import InputError
from tools.explain.ecto_fix import index_ecto
from tools.indexes import catalog as cat
from tools.indexes.advisor import BIAS_NOTE, QueryInput, prepare_inputs
from tools.indexes.candidates import IndexDef, strip_direction
from tools.indexes.catalog import norm_key
from tools.indexes.costs import Query, explain_doc, index_names
from tools.indexes.hypo import HIDE_NOTE, CandidateError, HypoBackend, hypopg_version, missing_note

USING = {"btree", "hash", "brin", "bloom"}  # what HypoPG can create (index-advisors.md §10)


@dataclass
class WhatIfIndex:
    index: IndexDef
    size_bytes: int | None = None
    error: str | None = None


@dataclass
class WhatIfQuery:
    sql: str
    cost_before: float | None = None
    cost_after: float | None = None
    uses: list[str] = field(default_factory=list)  # hypothetical indexes in the new plan (labels)
    existing_used: list[str] = field(default_factory=list)  # real indexes in the new plan
    error: str | None = None


@dataclass
class WhatIfReport:
    indexes: list[WhatIfIndex]
    queries: list[WhatIfQuery]
    notes: list[str]
    validated: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "validated": self.validated,
            "indexes": [{**i.index.as_dict(), "using": i.index.using, "sql": i.index.sql(),
                         "ecto": ecto_line(i.index), "size_bytes": i.size_bytes, "error": i.error}
                        for i in self.indexes],
            "queries": [{"sql": q.sql, "cost_before": q.cost_before, "cost_after": q.cost_after,
                         "uses": q.uses, "existing_indexes_used": q.existing_used, "error": q.error}
                        for q in self.queries],
            "notes": self.notes,
        }

    def text(self) -> str:
        lines = []
        for n, i in enumerate(self.indexes, 1):
            state = f"error: {i.error}" if i.error else (
                f"~{i.size_bytes / 1024 / 1024:.1f} MB (hypothetical estimate)" if i.size_bytes is not None else "")
            lines.append(f"index {n}: {i.index.label()}  {state}".rstrip())
        for n, q in enumerate(self.queries, 1):
            short = " ".join(q.sql.split())
            short = short if len(short) <= 100 else short[:99] + "…"
            lines.append("")
            lines.append(f"query {n}: {short}")
            if q.error:
                lines.append(f"  error: {q.error}")
                continue
            if q.cost_after is None:
                lines.append(f"  cost today: {q.cost_before:,.2f}")
                continue
            ratio = q.cost_before / q.cost_after if q.cost_after else float("inf")
            lines.append(f"  cost {q.cost_before:,.2f} -> {q.cost_after:,.2f} ({ratio:,.1f}x)")
            lines.append("  uses: " + (", ".join(q.uses) if q.uses else "none of the hypothetical indexes"))
            if q.existing_used:
                lines.append("  existing indexes in the new plan: " + ", ".join(q.existing_used))
        if self.notes:
            lines.append("")
            lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def parse_index_spec(spec: Any, n: int) -> IndexDef:
    if not isinstance(spec, dict):
        raise InputError(f"index {n}: expected an object with table and columns")
    table = spec.get("table")
    columns = spec.get("columns")
    if not isinstance(table, str) or not table.strip():
        raise InputError(f"index {n}: `table` must be a table name")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c.strip() for c in columns):
        raise InputError(f"index {n}: `columns` must be a non-empty list of column names or expressions")
    include = spec.get("include") or []
    if not isinstance(include, list) or not all(isinstance(c, str) and c.strip() for c in include):
        raise InputError(f"index {n}: `include` must be a list of column names")
    where = spec.get("where")
    if where is not None and (not isinstance(where, str) or not where.strip()):
        raise InputError(f"index {n}: `where` must be a SQL predicate")
    using = (spec.get("using") or "btree").lower()
    if using not in USING:
        raise InputError(f"index {n}: HypoPG cannot create {using} indexes (it supports "
                         f"{', '.join(sorted(USING))}); gin, gist and spgist need a real build")
    schema, _, name = table.strip().rpartition(".")
    return IndexDef(name.strip('"'), tuple(c.strip() for c in columns), schema.strip('"') or "public",
                    where.strip() if where else None, tuple(c.strip() for c in include),
                    bool(spec.get("unique", False)), using)


def try_indexes(specs: list[Any], inputs: list[QueryInput], database_url: str | None, *,
                statement_timeout_ms: int = 30_000, lock_timeout_ms: int = 1_000) -> WhatIfReport:
    if not isinstance(specs, list) or not specs:
        raise InputError("give at least one index to test: {table, columns, where?, include?, using?}")
    if not inputs:
        raise InputError("give at least one query to plan with the hypothetical indexes")
    indexes = [parse_index_spec(s, n) for n, s in enumerate(specs, 1)]
    prepared = prepare_inputs(inputs)
    notes: list[str] = []
    with connect(database_url) as conn:
        version = hypopg_version(conn)
        conn.rollback()
        conn.read_only = True
        backend = None
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                         (f"{statement_timeout_ms}ms", f"{lock_timeout_ms}ms"))
            resolved = []
            tables: dict[int, cat.TableInfo] = {}
            for idx in indexes:
                oid = cat.resolve(conn, None if idx.schema == "public" else idx.schema, idx.table)
                if oid is None:
                    raise InputError(f"no table {idx.table} in this database")
                info = tables.setdefault(oid, cat.load_table(conn, oid))
                resolved.append(IndexDef(info.name, idx.keys, info.schema, idx.where, idx.include, idx.unique,
                                         idx.using))
            queries = [Query(q.sql, values, q.calls, stmt, shape) for q, stmt, shape, values in prepared]
            results = [WhatIfQuery(q.sql) for q in queries]
            for q, r in zip(queries, results):
                r.cost_before, r.error = _cost(conn, q)
            if version is None:
                notes.append(missing_note(conn))
                return WhatIfReport([WhatIfIndex(i) for i in resolved], results, notes, False)
            backend = HypoBackend(conn, version)
            out_indexes = []
            for idx in resolved:
                try:
                    out_indexes.append(WhatIfIndex(idx, backend.size(idx)))
                except CandidateError as exc:
                    out_indexes.append(WhatIfIndex(idx, error=str(exc)))
            names = backend.names()
            for q, r in zip(queries, results):
                if r.error:
                    continue
                conn.execute("SAVEPOINT eo_whatif")
                try:
                    doc = explain_doc(conn, q)
                except psycopg.errors.QueryCanceled:
                    raise
                except psycopg.Error as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT eo_whatif")
                    r.error = describe_error(exc)
                    continue
                conn.execute("RELEASE SAVEPOINT eo_whatif")
                r.cost_after = float(doc["Plan"]["Total Cost"])
                used = index_names(doc["Plan"])
                r.uses = [names[n].label() for n in sorted(used) if n in names]
                r.existing_used = sorted(n for n in used if n not in names)
            notes.append(BIAS_NOTE)
            if not backend.can_hide:
                shadowed = _shadowed(resolved, tables)
                if shadowed:
                    notes.append(HIDE_NOTE.format(version=version) + f"; here {', '.join(shadowed)} "
                                 "stayed in every plan")
            return WhatIfReport(out_indexes, results, notes, True)
        except psycopg.errors.QueryCanceled:
            raise InputError(f"a statement ran longer than the {statement_timeout_ms} ms statement timeout "
                             "and was cancelled") from None
        except psycopg.errors.LockNotAvailable:
            raise InputError(f"a lock was not granted within the {lock_timeout_ms} ms lock timeout") from None
        except psycopg.Error as exc:
            raise InputError(f"the database refused a statement: {describe_error(exc, database_url)}") from None
        finally:
            if backend is not None:
                backend.close()
            conn.rollback()


def _cost(conn: psycopg.Connection, q: Query) -> tuple[float | None, str | None]:
    conn.execute("SAVEPOINT eo_whatif")
    try:
        doc = explain_doc(conn, q)
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:
        conn.execute("ROLLBACK TO SAVEPOINT eo_whatif")
        return None, describe_error(exc)
    conn.execute("RELEASE SAVEPOINT eo_whatif")
    return float(doc["Plan"]["Total Cost"]), None


def _shadowed(indexes: list[IndexDef], tables: dict[int, cat.TableInfo]) -> list[str]:
    """Existing indexes leading with the same column as a tested one: the ones a comparison
    'instead of' would need to hide, which HypoPG 1.3 cannot."""
    out = []
    for info in tables.values():
        for ix in info.indexes:
            lead = norm_key(strip_direction(ix.keys[0])) if ix.keys else None
            for idx in indexes:
                if (idx.schema, idx.table) == (info.schema, info.name) and idx.lead == lead and ix.name not in out:
                    out.append(ix.name)
    return out


def ecto_line(idx: IndexDef) -> str:
    return index_ecto(idx.table, list(idx.keys), where=idx.where, include=list(idx.include) or None,
                      unique=idx.unique, using=None if idx.using == "btree" else idx.using, prefix=idx.schema)
