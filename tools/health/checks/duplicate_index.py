"""duplicate-index."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from tools.health.catalog import IndexInfo, drop_index_fix, indexes
from tools.health.model import Env, Example, Finding, HealthCheck, human_bytes


class DuplicateIndex(HealthCheck):
    """Two valid indexes on the same table, same access method, same expressions and same WHERE:

    - identical (same key columns, operator classes, collations, order, INCLUDE and uniqueness):
      drop the one that backs no constraint, else the one with fewer scans, else the newer;
    - prefix-covered (PgHero's rule): a non-unique index with no INCLUDE columns whose key columns
      (with their operator classes, collations and order) are the leading key columns of the other.
      A unique index is never redundant to a wider one: it enforces a rule the wider one does not.
    """

    id = "duplicate-index"
    title = "Index another index already covers"
    what = "An index that is identical to another, or whose columns are a leading prefix of another's."
    why = ("The planner can use the wider index for every query the narrower one serves, so the narrower "
           "one only costs: write amplification on every insert and update, disk, WAL, cache.")
    threshold = ("Any size (PgHero duplicate indexes, pg-index-health duplicated/intersected indexes, "
                 "ecto_psql_extras duplicate_indexes).")
    fix = "Drop the redundant index concurrently in its own migration; keep the covering one."
    examples = [
        Example(
            fires=True, object="orders_customer_id_index", severity="warning",
            setup="""
                CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL,
                                     inserted_at timestamp NOT NULL DEFAULT now());
                CREATE INDEX orders_customer_id_index ON orders (customer_id);
                CREATE INDEX orders_customer_id_inserted_at_index ON orders (customer_id, inserted_at);
            """,
            fix_has=("drop index(:orders, [:customer_id], concurrently: true)",),
        ),
        Example(
            fires=True, object="orders_status_idx", note="exact duplicate under another name",
            setup="""
                CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL);
                CREATE INDEX orders_status_index ON orders (status);
                CREATE INDEX orders_status_idx ON orders (status);
            """,
            fix_has=("name: :orders_status_idx",),
        ),
        Example(
            fires=False, note="a unique index is not redundant to a wider one",
            setup="""
                CREATE TABLE orders (id bigserial PRIMARY KEY, number text NOT NULL, status text NOT NULL);
                CREATE UNIQUE INDEX orders_number_index ON orders (number);
                CREATE INDEX orders_number_status_index ON orders (number, status);
            """,
        ),
        Example(
            fires=False, note="different operator class: text_pattern_ops serves LIKE 'abc%', the default does not",
            setup="""
                CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);
                CREATE INDEX users_email_index ON users (email);
                CREATE INDEX users_email_pattern_index ON users (email text_pattern_ops);
            """,
        ),
        Example(
            fires=False, note="partial indexes with different predicates",
            setup="""
                CREATE TABLE jobs (id bigserial PRIMARY KEY, state text NOT NULL, queue text NOT NULL);
                CREATE INDEX jobs_queue_available ON jobs (queue) WHERE state = 'available';
                CREATE INDEX jobs_queue_state ON jobs (queue, state);
            """,
        ),
    ]

    def collect(self, db) -> list[IndexInfo]:
        return indexes(db, "x.indisvalid")

    def evaluate(self, data: list[IndexInfo], env: Env) -> list[Finding]:
        out: list[Finding] = []
        reported: set[int] = set()
        ordered = sorted(data, key=lambda i: i.table_oid)
        for _, group in groupby(ordered, key=lambda i: i.table_oid):
            group = list(group)
            for a in group:
                for b in group:
                    if a is b or a.oid in reported or b.oid in reported:
                        continue
                    verdict = redundant(a, b)
                    if verdict is None:
                        continue
                    out.append(self._finding(a, b, verdict))
                    reported.add(a.oid)
        return out

    def _finding(self, drop: IndexInfo, keep: IndexInfo, verdict: str) -> Finding:
        how = "is identical to" if verdict == "identical" else "is a leading prefix of"
        message = (f"{drop.name} {how} {keep.name} on {drop.qualified_table}: every query it serves can use "
                   f"{keep.name}, so it only costs writes and {human_bytes(drop.bytes)} of disk and cache")
        evidence: dict[str, Any] = {
            "redundant": drop.definition, "covered_by": keep.definition, "kind": verdict,
            "redundant_size": human_bytes(drop.bytes), "redundant_idx_scan": drop.scans,
            "covering_idx_scan": keep.scans,
        }
        return self.finding("warning", drop.qualified_name, message, evidence,
                            drop_index_fix(drop, comment=f"{keep.name} covers every query {drop.name} serves"))


def _same_shape(a: IndexInfo, b: IndexInfo) -> bool:
    return a.am == b.am and (a.exprs or "") == (b.exprs or "") and (a.predicate or "") == (b.predicate or "")


def _keys(i: IndexInfo, n: int) -> list[tuple]:
    return [(i.attnums[k], i.classes[k] if k < len(i.classes) else 0,
             i.collations[k] if k < len(i.collations) else 0, i.options[k] if k < len(i.options) else 0)
            for k in range(n)]


def redundant(a: IndexInfo, b: IndexInfo) -> str | None:
    """'identical' or 'prefix' when `a` can be dropped because `b` covers it; else None."""
    if a.primary or not _same_shape(a, b):
        return None
    identical = (a.nkey == b.nkey and a.natts == b.natts and _keys(a, a.nkey) == _keys(b, b.nkey)
                 and a.attnums == b.attnums and a.unique == b.unique)
    if identical:
        # Of two identical indexes, drop the one that backs no constraint; then the less used;
        # then the newer.
        if a.constraint_type and not b.constraint_type:
            return None
        if bool(a.constraint_type) == bool(b.constraint_type):
            if (a.scans, -a.oid) > (b.scans, -b.oid):
                return None
            if a.constraint_type:
                return None  # both back constraints: dropping either means dropping a constraint
        return "identical"
    if a.unique or a.constraint_type or a.natts > a.nkey:
        return None
    wider = a.nkey < b.nkey or b.natts > b.nkey or b.unique
    if a.nkey <= b.nkey and wider and _keys(a, a.nkey) == _keys(b, a.nkey):
        return "prefix"
    return None
