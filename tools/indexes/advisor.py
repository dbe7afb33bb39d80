"""The index advisor end to end: queries in, validated indexes and their migrations out.

Everything happens on one connection, in one transaction that is rolled back at the end, with
the explain runner's statement and lock timeouts. With HypoPG the transaction is READ ONLY and
nothing is written; hypothetical indexes are reset before the rollback. Without HypoPG, a
database the user declares disposable (`scratch`) gets real indexes, rolled back too; anywhere
else the candidates are listed, labelled unvalidated.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psycopg

from tools.db.connect import connect, describe_error
from tools.errors import InputError
from tools.explain.classify import Statement, classify
from tools.explain.ecto_fix import ecto_index_name
from tools.explain.params import parse_params, split_logged_query
from tools.indexes import catalog as cat
from tools.indexes.candidates import (
    TINY_PAGES,
    AccessKeys,
    IndexDef,
    QueryShape,
    access_keys,
    covered_by_existing,
    generate,
    names_in,
    read_query,
    redundant_existing,
    strip_direction,
)
from tools.indexes.catalog import TableInfo, norm_key
from tools.indexes.costs import Evaluator, Query, explain_doc, rows_changed, rows_read
from tools.indexes.hypo import HIDE_NOTE, HypoBackend, ScratchBackend, hypopg_version, missing_note
from tools.indexes.migrations import (
    drop_migration_module,
    drop_migration_name,
    migration_module,
    migration_name,
    repo_module,
)
from tools.indexes.select import ENTRY_COST, Search

PGSS_LIMIT = 50
BIAS_NOTE = ("costs are the planner's estimates with hypothetical indexes: compare them with each other, "
             "not with real indexes (HypoPG's sizes and startup costs are biased)")


@dataclass
class QueryInput:
    sql: str
    params: str | list | None = None
    calls: float = 1.0
    source: str = "given"  # or "pg_stat_statements"


@dataclass
class AdviseOptions:
    budget_mb: float | None = None
    from_pg_stat_statements: bool = False
    pgss_limit: int = PGSS_LIMIT
    scratch: bool = False
    project: Path | None = None
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000
    time_limit_s: float = 25.0


@dataclass
class Recommendation:
    index: IndexDef
    sql: str
    ecto_migration: str
    cost_before: float | None
    cost_after: float | None
    size_bytes: int | None
    queries: list[dict[str, Any]]
    redundant: list[str] = field(default_factory=list)
    name: str = ""  # the index's name: Ecto's default unless that is taken
    drop_migrations: list[tuple[str, str]] = field(default_factory=list)  # (name, module) per redundant index

    def as_json(self) -> dict[str, Any]:
        data = self.index.as_dict()
        data.update(sql=self.sql, ecto_migration=self.ecto_migration, cost_before=self.cost_before,
                    cost_after=self.cost_after, size_bytes=self.size_bytes, queries=self.queries)
        return data


@dataclass
class Advice:
    recommendations: list[Recommendation]
    unvalidated: list[Recommendation]
    notes: list[str]
    mode: str  # "hypopg", "scratch" or "unvalidated"
    workload_before: float | None = None
    workload_after: float | None = None
    queries: int = 0
    explains: int = 0
    seconds: float = 0.0

    def migration_files(self) -> list[tuple[str, str]]:
        """(name, module) of every migration to write: each index, then the drops it allows."""
        files = [(migration_name(r.index, r.name), r.ecto_migration) for r in self.recommendations]
        files += [drop for r in self.recommendations for drop in r.drop_migrations]
        return files

    def as_json(self) -> dict[str, Any]:
        return {"recommendations": [r.as_json() for r in self.recommendations],
                "unvalidated": [r.as_json() for r in self.unvalidated],
                "notes": list(self.notes)}

    def text(self) -> str:
        return render_text(self)


# ---------------------------------------------------------------------------------------------
# Input


Prepared = tuple[QueryInput, Statement, QueryShape, list | None]


def prepare_inputs(inputs: list[QueryInput]) -> list[Prepared]:
    """Each query checked before any connection: one statement we may plan, params that fit."""
    prepared = []
    for n, q in enumerate(inputs, 1):
        where = f"query {n}: " if len(inputs) > 1 else ""
        if not isinstance(q.sql, str) or not q.sql.strip():
            raise InputError(f"{where}no SQL given")
        try:
            sql, params = q.sql, q.params
            if params is None:
                sql, params = split_logged_query(sql)
            values = parse_params(params)
            stmt = classify(sql)
            shape = read_query(stmt.sql)
        except InputError as exc:
            raise InputError(f"{where}{exc}") from None
        if values is not None and len(values) < stmt.param_count:
            raise InputError(f"{where}the query uses ${stmt.param_count} but {len(values)} params were given")
        if values is not None and stmt.param_count == 0:
            values = None
        try:
            calls = float(q.calls)
        except (TypeError, ValueError):
            raise InputError(f"{where}calls must be a number") from None
        if not calls > 0:
            raise InputError(f"{where}calls must be positive")
        prepared.append((QueryInput(stmt.sql, values, calls, q.source), stmt, shape, values))
    return prepared


_SKIP_PREFIXES = ("EXPLAIN", "PREPARE", "EXECUTE", "DEALLOCATE", "SET ", "SHOW", "BEGIN", "COMMIT", "ROLLBACK",
                  "SAVEPOINT", "RELEASE")
_SKIP_WORDS = ("hypopg", "pg_stat_statements", "pg_catalog.", "information_schema.")


def read_pg_stat_statements(conn: psycopg.Connection, limit: int) -> list[tuple[str, float, float]]:
    """(normalised SQL, calls, total ms) of this database's statements, most total time first."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone() is None:
        raise InputError("pg_stat_statements is not installed in this database: add it to "
                         "shared_preload_libraries and `CREATE EXTENSION pg_stat_statements;`, or pass --sql")
    queries = [
        """SELECT query, calls, total_exec_time + total_plan_time FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel
           ORDER BY 3 DESC LIMIT %s""",
        """SELECT query, calls, total_time FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           ORDER BY 3 DESC LIMIT %s""",
    ]
    rows = None
    for text in queries:
        conn.execute("SAVEPOINT eo_pgss")
        try:
            rows = conn.execute(text, (limit * 4,)).fetchall()
            conn.execute("RELEASE SAVEPOINT eo_pgss")
            break
        except psycopg.errors.UndefinedColumn:
            conn.execute("ROLLBACK TO SAVEPOINT eo_pgss")
        except psycopg.Error as exc:
            conn.execute("ROLLBACK TO SAVEPOINT eo_pgss")
            raise InputError(f"cannot read pg_stat_statements: {describe_error(exc)}") from None
    out = []
    for sql, calls, total in rows or []:
        text = (sql or "").strip()
        head = text.upper()
        if not text or head.startswith(_SKIP_PREFIXES) or any(w in text.lower() for w in _SKIP_WORDS):
            continue
        out.append((text, float(calls or 0), float(total or 0.0)))
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------------------------
# The run


class _Run:
    def __init__(self, conn: psycopg.Connection, options: AdviseOptions) -> None:
        self.conn = conn
        self.options = options
        self.notes: list[str] = []
        self.tables: dict[int, TableInfo] = {}
        self.resolved: dict[tuple[str | None, str], TableInfo | None] = {}
        self.pgss_window_s: float | None = None
        self.table_window_s: float | None = None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def table(self, schema: str | None, name: str) -> TableInfo | None:
        key = (schema, name)
        if key not in self.resolved:
            oid = cat.resolve(self.conn, schema, name)
            info = None
            if oid is not None:
                if oid not in self.tables:
                    self.tables[oid] = cat.load_table(self.conn, oid)
                info = self.tables[oid]
            self.resolved[key] = info
        return self.resolved[key]

    def savepoint(self, fn, *args):
        self.conn.execute("SAVEPOINT eo_step")
        try:
            result = fn(*args)
        except psycopg.errors.QueryCanceled:
            self.conn.execute("ROLLBACK TO SAVEPOINT eo_step")
            raise
        except psycopg.Error:
            self.conn.execute("ROLLBACK TO SAVEPOINT eo_step")
            raise
        self.conn.execute("RELEASE SAVEPOINT eo_step")
        return result


def _merge(keys: list[AccessKeys]) -> AccessKeys:
    if len(keys) == 1:
        return keys[0]

    def union(attr: str) -> list:
        out: list = []
        for k in keys:
            for item in getattr(k, attr):
                if item not in out:
                    out.append(item)
        return out

    refs: set[str] | None = set()
    for k in keys:
        refs = None if refs is None or k.referenced is None else refs | k.referenced
    return AccessKeys(union("equality"), union("nulls"), union("booleans"), union("ranges"), union("sort"),
                      union("group"), union("literal_predicates"), refs)


def advise(inputs: list[QueryInput], database_url: str | None, options: AdviseOptions | None = None) -> Advice:
    started = time.monotonic()
    with workbench(inputs, database_url, options) as wb:
        advice = wb.advise()
    advice.seconds = time.monotonic() - started
    return advice


@contextmanager
def workbench(inputs: list[QueryInput], database_url: str | None,
              options: AdviseOptions | None = None) -> Iterator["Workbench"]:
    """The queries planned, the candidates generated and a what-if backend ready, all inside the
    rolled-back transaction; `advise` runs the search on it, the benchmark runs its rivals."""
    options = options or AdviseOptions()
    if not inputs and not options.from_pg_stat_statements:
        raise InputError("nothing to advise on: give at least one --sql, or --from-pg-stat-statements")
    if options.budget_mb is not None and not options.budget_mb > 0:
        raise InputError("--budget-mb must be a positive number of megabytes")
    if options.pgss_limit < 1:
        raise InputError("the pg_stat_statements limit must be at least 1")
    prepared = prepare_inputs(inputs)
    with connect(database_url) as conn:
        version = hypopg_version(conn)
        conn.rollback()
        scratch = version is None and options.scratch
        conn.read_only = not scratch
        run = _Run(conn, options)
        backend = None
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                         (f"{options.statement_timeout_ms}ms", f"{options.lock_timeout_ms}ms"))
            if options.from_pg_stat_statements:
                _add_pg_stat_statements(run, prepared)
            if version is not None:
                backend = HypoBackend(conn, version)
                mode = "hypopg"
                if options.scratch:
                    run.note("HypoPG is available, so nothing was built: --scratch is for databases without it")
            elif scratch:
                backend = ScratchBackend(conn, statement_timeout_ms=options.statement_timeout_ms)
                mode = "scratch"
                run.note("HypoPG is not available: --scratch built real indexes inside a transaction that was "
                         "rolled back (their builds locked out writes to the tables meanwhile)")
            else:
                mode = "unvalidated"
                run.note(missing_note(conn))
            yield Workbench(run, prepared, backend, mode)
        except psycopg.errors.QueryCanceled:
            raise InputError(f"a statement ran longer than the {options.statement_timeout_ms} ms statement "
                             "timeout and was cancelled; nothing was changed") from None
        except psycopg.errors.LockNotAvailable:
            raise InputError(f"a lock was not granted within the {options.lock_timeout_ms} ms lock timeout "
                             "(another session holds it); nothing was changed") from None
        except psycopg.Error as exc:
            raise InputError(f"the database refused a statement: {describe_error(exc, database_url)}") from None
        finally:
            if backend is not None:
                backend.close()
            conn.rollback()


def _windows(conn: psycopg.Connection) -> tuple[float | None, float | None]:
    """Seconds since pg_stat_statements and this database's table statistics were last reset."""
    out = []
    for sql in ("SELECT extract(epoch FROM now() - stats_reset) FROM pg_stat_statements_info",
                "SELECT extract(epoch FROM now() - stats_reset) FROM pg_stat_database "
                "WHERE datname = current_database()"):
        conn.execute("SAVEPOINT eo_window")
        try:
            row = conn.execute(sql).fetchone()
            conn.execute("RELEASE SAVEPOINT eo_window")
        except psycopg.Error:  # pg_stat_statements before 1.9 has no pg_stat_statements_info
            conn.execute("ROLLBACK TO SAVEPOINT eo_window")
            row = None
        out.append(float(row[0]) if row and row[0] is not None else None)
    return out[0], out[1]


def _add_pg_stat_statements(run: _Run, prepared: list) -> None:
    found = read_pg_stat_statements(run.conn, run.options.pgss_limit)
    if not found and not prepared:
        raise InputError("pg_stat_statements has no statements for this database yet")
    for sql, calls, _total in found:
        try:
            stmt = classify(sql)
            shape = read_query(stmt.sql)
        except InputError:
            continue
        prepared.append((QueryInput(stmt.sql, None, max(calls, 1.0), "pg_stat_statements"), stmt, shape, None))
    run.pgss_window_s, run.table_window_s = _windows(run.conn)
    if found:
        run.note("pg_stat_statements replaces every constant with $n, so its queries are costed with "
                 "generic plans and cannot show literal predicates for partial indexes; pass such "
                 "queries with --sql as the app sends them")


class Workbench:
    def __init__(self, run: _Run, prepared, backend, mode: str) -> None:
        self.run = run
        self.backend = backend
        self.mode = mode
        self.queries: list[Query] = []
        self.accesses: list[list[tuple]] = []
        self._plan(prepared)
        self.pool: dict[IndexDef, set[int]] = {}
        self._generate()
        self.evaluator = Evaluator(run.conn, backend, self.queries) if backend is not None else None
        self.penalty = _penalty(run, self.queries)
        self.extend_keys: dict[tuple[str, str], list[str]] = {}
        for q in self.queries:
            for table, keys in q.keys.items():
                lst = self.extend_keys.setdefault(table, [])
                for k in keys.indexable():
                    if norm_key(strip_direction(k)) not in {norm_key(strip_direction(x)) for x in lst}:
                        lst.append(k)

    def _plan(self, prepared) -> None:
        run, conn = self.run, self.run.conn
        for qin, stmt, shape, values in prepared:
            if not shape.accesses and qin.source == "pg_stat_statements":
                continue  # `SELECT pg_stat_reset()` and the like: no table, nothing to index
            per_table: dict[tuple[str, str], list[AccessKeys]] = {}
            mine = []
            missing = []
            system = False
            for access in shape.accesses:
                info = run.table(access.schema, access.table)
                if info is None:
                    missing.append(access.table)
                    continue
                if info.schema in ("pg_catalog", "information_schema") or info.schema.startswith("pg_toast"):
                    system = True
                    continue
                if info.kind == "v":
                    run.note(f"{info.name} is a view: index the tables it reads (candidates come from base "
                             "tables only)")
                    continue
                if info.kind == "p":
                    run.note(f"{info.name} is partitioned: CREATE INDEX CONCURRENTLY does not work on a "
                             "partitioned table; index each partition, then attach (no candidates were made for it)")
                    continue
                per_table.setdefault((info.schema, info.name), []).append(access_keys(access, info))
                mine.append((access, info))
            if system and qin.source == "pg_stat_statements":
                continue  # monitoring and tooling (ours included), not the application
            if system:
                run.note(f"system catalogs get no index advice ({_short(qin.sql)})")
            if missing:
                run.note(f"skipped a query on {', '.join(sorted(set(missing)))}: no such table in this database "
                         f"({_short(qin.sql)})")
                continue
            q = Query(qin.sql, values, qin.calls, stmt, shape, {t: _merge(k) for t, k in per_table.items()})
            try:
                doc = run.savepoint(explain_doc, conn, q)
            except psycopg.errors.QueryCanceled:
                raise
            except psycopg.Error as exc:
                run.note(f"skipped a query the database could not plan: {describe_error(exc)} ({_short(q.sql)})")
                continue
            q.base_cost = float(doc["Plan"]["Total Cost"])
            q.rows = rows_read(doc["Plan"])
            if q.is_write:
                q.rows_written = rows_changed(doc["Plan"])
            if shape.has_like:
                run.note("LIKE/ILIKE patterns need a trigram GIN index, which HypoPG cannot evaluate; the explain "
                         "tool proposes one")
            if shape.has_or:
                run.note("conditions under OR were left out of the candidates (one composite index cannot serve "
                         "them); the explain tool proposes one index per branch")
            self.queries.append(q)
            self.accesses.append(mine)
        if not self.queries:
            raise InputError("none of the queries could be planned: " + "; ".join(run.notes[-3:]))

    def _generate(self) -> None:
        tiny = set()
        for qi, mine in enumerate(self.accesses):
            for access, info in mine:
                if info.pages <= TINY_PAGES and info.kind in ("r", "m"):
                    tiny.add(info.name)
                for cand in generate(access, info, self.queries[qi].rows.get(info.name)):
                    self.pool.setdefault(cand, set()).add(qi)
        if tiny:
            self.run.note(f"no candidates for tiny tables ({', '.join(sorted(tiny))}): a sequential scan of a "
                          "few pages is as fast as any index")

    def search(self, budget_bytes: int | None, time_limit_s: float | None = None) -> Search:
        deadline = time.monotonic() + time_limit_s if time_limit_s else None
        return Search(self.evaluator, self.pool, budget_bytes=budget_bytes, penalty=self.penalty,
                      extend_keys=self.extend_keys, deadline=deadline)

    def advise(self) -> Advice:
        run, options = self.run, self.run.options
        if self.backend is None:
            unvalidated = _unvalidated(run, self.queries, self.accesses)
            return Advice([], unvalidated, run.notes, self.mode, queries=len(self.queries))
        ev = self.evaluator
        budget = int(options.budget_mb * 1024 * 1024) if options.budget_mb is not None else None
        selection = self.search(budget, options.time_limit_s).run()
        if selection.timed_out:
            run.note(f"the search stopped at its {options.time_limit_s:.0f} s time limit; the result is the best "
                     "configuration found by then")
        config = selection.config
        recs = _recommendations(run, ev, config, selection.sizes, self.queries)
        if self.mode == "hypopg":
            run.note(BIAS_NOTE)
            if budget is not None:
                run.note("the budget is checked against HypoPG's size estimates, which run up to twice the "
                         "real size: the indexes built will take less")
        if any(c.include for c in self.pool):
            for info in run.tables.values():
                if info.visible_fraction < 0.5 and info.pages > TINY_PAGES:
                    run.note(f"{info.name} is only {info.visible_fraction:.0%} all-visible (relallvisible), so "
                             "index-only scans are costed as if they visited the heap: covering (INCLUDE) indexes "
                             "look worse than they will after VACUUM")
        if not recs:
            run.note("no index improves the workload enough to pay for itself"
                     + (" within the budget" if budget is not None else ""))
        return Advice(recs, [], run.notes, self.mode, workload_before=ev.weighted([]),
                      workload_after=ev.weighted(config), queries=len(self.queries), explains=ev.explains)


def _penalty(run: _Run, queries: list[Query]):
    """What each index would add to the writes of its table, in cost units over the workload's window."""
    inserts: dict[tuple[str, str], float] = {}
    updates: dict[tuple[str, str], list[tuple[set[str], float]]] = {}
    if run.options.from_pg_stat_statements:
        # pg_stat_user_tables counts since this database's statistics were reset, pg_stat_statements
        # since its own reset: scale the writes to the statements' window when both are known.
        scale = 1.0
        pgss, tables = run.pgss_window_s, run.table_window_s
        if pgss and tables and tables > pgss:
            scale = pgss / tables
        elif pgss and not tables:
            run.note("write overhead assumes pg_stat_user_tables and pg_stat_statements count over the same "
                     "period; this database's statistics were never reset (pg_stat_reset()), so a bulk load "
                     "long ago may weigh against every index")
        for info in run.tables.values():
            inserts[(info.schema, info.name)] = float(info.index_writes) * scale
    for q in queries:
        if not q.is_write or not q.rows_written:
            continue
        target = next((a for a in q.shape.accesses if a.write_target), None)
        if target is None:
            continue
        info = run.table(target.schema, target.table)
        if info is None:
            continue
        key = (info.schema, info.name)
        rows = q.rows_written * q.calls
        if run.options.from_pg_stat_statements:
            continue  # already counted by pg_stat_user_tables
        if q.shape.verb == "INSERT":
            inserts[key] = inserts.get(key, 0.0) + rows
        elif q.shape.verb == "UPDATE":
            updates.setdefault(key, []).append((set(q.shape.set_columns), rows))
    indexed: dict[tuple[str, str], set[str]] = {}
    for info in run.tables.values():
        cols: set[str] = set()
        for ix in info.indexes:
            cols |= {norm_key(strip_direction(k)) for k in ix.keys}
        indexed[(info.schema, info.name)] = cols

    replaces: dict[IndexDef, bool] = {}

    def penalty(idx: IndexDef) -> float:
        key = (idx.schema, idx.table)
        if idx not in replaces:
            info = run.table(idx.schema, idx.table)
            replaces[idx] = bool(info and redundant_existing(idx, info))
        if replaces[idx]:
            # It makes an existing index redundant, and the advice is to drop that one: the
            # table keeps the same number of indexes to maintain.
            return 0.0
        rows = inserts.get(key, 0.0)
        mine = {norm_key(strip_direction(k)) for k in idx.keys} | {norm_key(c) for c in idx.include}
        for set_cols, n in updates.get(key, ()):
            touched = {norm_key(c) for c in set_cols}
            # An update of an indexed column cannot be HOT: it adds an entry to every index.
            if touched & (mine | indexed.get(key, set())):
                rows += n
        return rows * ENTRY_COST

    return penalty


def _recommendations(run: _Run, ev: Evaluator, config: list[IndexDef], sizes: dict[IndexDef, int],
                     queries: list[Query]) -> list[Recommendation]:
    repo = repo_module(run.options.project)
    out = []
    hide_noted = False
    taken = {ix.name for info in run.tables.values() for ix in info.indexes}
    for idx in config:
        name = _free_name(idx, taken)
        taken.add(name)
        served = [qi for qi in range(len(queries)) if idx in ev.used(qi, config)]
        if not served:
            served = [qi for qi in ev.serves(idx) if ev.cost(qi, config) < ev.cost(qi, [])]
        rows = []
        before = after = 0.0
        for qi in served:
            q = queries[qi]
            b, a = ev.cost(qi, []), ev.cost(qi, config)
            before += q.calls * b
            after += q.calls * a
            rows.append({"sql": q.statement.sql, "calls": q.calls, "cost_before": round(b, 2),
                         "cost_after": round(a, 2)})
        info = run.table(idx.schema, idx.table)
        redundant = redundant_existing(idx, info) if info else []
        if redundant and ev.backend.can_hide:
            # Measured: with the old index hidden, the workload must not get dearer.
            base = ev.weighted(config)
            redundant = [old for old in redundant
                         if ev.weighted(config, hidden=(_qualified(info.schema, old),)) <= base * 1.001]
        elif redundant and not hide_noted:
            run.note(HIDE_NOTE.format(version=getattr(ev.backend, "version", "1.3")))
            hide_noted = True
        comments = []
        if rows:
            comments.append(f"Estimated cost of the queries it serves: {before:,.0f} -> {after:,.0f} "
                            f"(calls x planner cost units, {_plural(len(rows), 'query', 'queries')}).")
        for old in redundant:
            comments.append(f"Afterwards {old} is redundant (a prefix of this index): a later migration")
            comments.append("drops it, once this one is in use.")
            run.note(f"{idx.label()} makes the existing index {old} redundant: after deploying, check "
                     f"pg_stat_user_indexes.idx_scan and drop {old} concurrently")
        drops = [(drop_migration_name(ix.name), drop_migration_module(idx.table, ix, schema=idx.schema, repo=repo))
                 for ix in (info.indexes if info else []) if ix.name in redundant]
        out.append(Recommendation(idx, idx.sql(name=name), migration_module(idx, repo=repo, comments=comments,
                                                                           name=name),
                                  round(before, 2), round(after, 2), sizes.get(idx), rows, redundant, name, drops))
    out.sort(key=lambda r: -((r.cost_before or 0) - (r.cost_after or 0)))
    return out


def _qualified(schema: str, name: str) -> str:
    return f"{cat.quote_ident_always(schema)}.{cat.quote_ident_always(name)}"


def _free_name(idx: IndexDef, taken: set[str]) -> str:
    """Ecto's default name, unless an index of that name exists: Ecto's name leaves out INCLUDE
    and WHERE, so `index(:invoices, [:customer_id], include: [:amount_cents])` collides with the
    plain index on customer_id. Then the name says what differs, and goes to Ecto as `name:`."""
    # PostgreSQL truncates names to 63 bytes, so compare what it would keep.
    def kept(n: str) -> str:
        return n.encode()[:63].decode(errors="ignore")

    taken_kept = {kept(t) for t in taken}
    parts = list(idx.keys)
    if idx.include:
        parts += ["include", *idx.include]
    if idx.where:
        parts += ["where", *sorted(names_in(idx.where, predicate=True))]
    for name in (idx.name, ecto_index_name(idx.table, parts)):
        if kept(name) not in taken_kept:
            return name
    n = 2
    while True:
        suffix = f"_{n}"
        name = kept(idx.name)[: 63 - len(suffix)] + suffix
        if name not in taken_kept:
            return name
        n += 1


def _best_guess(access, info: TableInfo, rows: float | None) -> IndexDef | None:
    """Without a what-if backend: one index per table access, in ESR order, partial when the
    query's literal predicates allow it."""
    cands = generate(access, info, rows)
    if not cands:
        return None
    partial = [c for c in cands if c.where and not c.include]
    full = [c for c in cands if not c.where and not c.include]
    pick = max(partial or full or cands, key=lambda c: len(c.keys))
    return None if covered_by_existing(pick, info) else pick


def _unvalidated(run: _Run, queries: list[Query], accesses) -> list[Recommendation]:
    repo = repo_module(run.options.project)
    taken = {ix.name for info in run.tables.values() for ix in info.indexes}
    found: dict[IndexDef, list[int]] = {}
    for qi, mine in enumerate(accesses):
        for access, info in mine:
            guess = _best_guess(access, info, queries[qi].rows.get(info.name))
            if guess is not None:
                found.setdefault(guess, []).append(qi)
    out = []
    for idx, qis in found.items():
        rows = [{"sql": queries[qi].statement.sql, "calls": queries[qi].calls,
                 "cost_before": round(queries[qi].base_cost, 2), "cost_after": None} for qi in qis]
        comments = ["Unvalidated: proposed from the query's shape; no what-if costing was possible."]
        name = _free_name(idx, taken)
        taken.add(name)
        out.append(Recommendation(idx, idx.sql(name=name),
                                  migration_module(idx, repo=repo, comments=comments, name=name),
                                  None, None, None, rows, name=name))
    return out


def _short(sql: str, width: int = 80) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Text


def _plural(n: float, one: str, many: str) -> str:
    return f"{n:,.0f} {one if n == 1 else many}"


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{n / 1024:.0f} kB"


def render_text(advice: Advice) -> str:
    lines: list[str] = []
    if advice.recommendations:
        head = f"{_plural(len(advice.recommendations), 'index', 'indexes')} recommended"
        if advice.workload_before is not None and advice.workload_after is not None and advice.workload_before:
            saved = 1 - advice.workload_after / advice.workload_before
            head += (f"; workload cost {advice.workload_before:,.0f} -> {advice.workload_after:,.0f} "
                     f"({saved:.1%} less, {_plural(advice.queries, 'query', 'queries')}, calls x estimated cost)")
        lines.append(head)
        for n, rec in enumerate(advice.recommendations, 1):
            lines.append("")
            lines.append(f"{n}. {rec.index.label()}   ~{_size(rec.size_bytes)} (hypothetical estimate)"
                         if advice.mode == "hypopg" else f"{n}. {rec.index.label()}   {_size(rec.size_bytes)}")
            lines.append(f"   serves {_plural(len(rec.queries), 'query', 'queries')}: "
                         f"cost {rec.cost_before:,.0f} -> {rec.cost_after:,.0f}")
            for q in rec.queries[:5]:
                lines.append(f"   - {q['cost_before']:,.0f} -> {q['cost_after']:,.0f} per call, "
                             f"{_plural(q['calls'], 'call', 'calls')}: {_short(q['sql'], 90)}")
            for name in rec.redundant:
                lines.append(f"   makes {name} redundant")
            lines.append(f"   SQL:  {rec.sql}")
            lines.append("   Ecto migration:")
            lines += [f"     {line}" if line else "" for line in rec.ecto_migration.rstrip().splitlines()]
            for _, drop in rec.drop_migrations:
                lines.append("   Then, once the new index is in use (pg_stat_user_indexes), drop the old one:")
                lines += [f"     {line}" if line else "" for line in drop.rstrip().splitlines()]
    elif not advice.unvalidated:
        lines.append("No index recommended.")
    if advice.unvalidated:
        lines.append(f"{_plural(len(advice.unvalidated), 'unvalidated candidate', 'unvalidated candidates')}, "
                     "from the queries' shape only:")
        for rec in advice.unvalidated:
            lines.append(f"- {rec.index.label()}")
            lines.append(f"  SQL: {rec.sql}")
            for q in rec.queries[:3]:
                lines.append(f"  for: {_short(q['sql'], 90)}")
    if advice.notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"- {n}" for n in advice.notes]
    return "\n".join(lines)
