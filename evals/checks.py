"""Check kinds: each judges an outcome by executing something, never by matching prose.

A case's case.json lists checks as {"kind": ..., "args": {...}}. Each kind is one function
here, registered in CHECKS, taking the args and a CheckContext and returning (passed, detail).
Migrations are judged on Elixir's syntax tree (and the SQL they `execute`, parsed by PostgreSQL's
own parser) and by applying them to a scratch copy of the case's pristine database; code changes
on the syntax tree of the functions named and the local functions they reach.

The kinds:
  index_migration   a new migration creates the index needed, safely
  index_dropped     a new migration drops the named index, safely, and it is gone
  migrations_safe   every new or changed migration avoids the locks that take production down
  schema_has        after the new migrations: an index, a validated constraint, extended statistics
  query_improves    the target query's plan gets cheaper by a ratio
  no_disk_sort      the target query no longer spills to disk under production's settings
  estimate_ok       the planner's row estimate for a relation is within a factor
  no_repo_in_loop   no Repo call per element of a collection
  code_shape        the function's code has (or lacks) the markers of a fix
  untouched         nothing outside the task's files changed
  any_of, all_of    alternatives / conjunctions of other checks
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import BaseModel

from evals import database as db
from evals.case import Case, CheckSpec
from evals.workspace import State, fingerprint
from tools.ecto.migration import AlterTable, ColumnChange, CreateIndex, CreateTable, DropIndex, Execute, Migration, \
    parse_migration
from tools.errors import InputError

MIGRATIONS_GLOB = "priv/repo/migrations/*.exs"
INDEXED_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}
# The config a production node loads (config.exs imports prod.exs; runtime.exs comes last).
# dev.exs and test.exs never reach production, so settings there fix nothing.
PRODUCTION_CONFIG = ("config.exs", "prod.exs", "runtime.exs")


class CheckResult(BaseModel):
    name: str
    passed: bool
    detail: str


class CaseResult(BaseModel):
    case: str
    passed: bool
    checks: list[CheckResult]


@dataclass
class CheckContext:
    case: Case
    state: State
    workspace: Path
    _scratch: str | None = field(default=None, init=False)
    _scratch_error: str | None = field(default=None, init=False)

    @cached_property
    def now(self) -> dict[str, str]:
        return fingerprint(self.workspace)

    @cached_property
    def added(self) -> list[str]:
        return sorted(set(self.now) - set(self.state.fingerprints))

    @cached_property
    def modified(self) -> list[str]:
        return sorted(p for p in self.now if p in self.state.fingerprints and self.now[p] != self.state.fingerprints[p])

    @cached_property
    def deleted(self) -> list[str]:
        return sorted(set(self.state.fingerprints) - set(self.now))

    @cached_property
    def new_migrations(self) -> list[Path]:
        """Migration files a deploy would run next: the agent's new or changed ones, and the case's
        pending ones that are still there."""
        pending = [p for p in self.case.pending_migrations if p in self.now]
        changed = {p for p in self.added + self.modified + pending if fnmatch.fnmatch(p, MIGRATIONS_GLOB)}
        return [self.workspace / p for p in sorted(changed)]

    def parsed_migrations(self) -> list[tuple[Path, Migration | None, str | None]]:
        result = []
        for path in self.new_migrations:
            try:
                result.append((path, parse_migration(path.read_text(encoding="utf-8"), path=str(path)), None))
            except (InputError, UnicodeDecodeError) as exc:
                result.append((path, None, str(exc)))
        return result

    @cached_property
    def repo_config(self) -> dict[str, Any]:
        return production_repo_options(self.workspace)

    @property
    def migration_lock_free(self) -> str | None:
        """Why the repo's migrations need no @disable_migration_lock, if they don't: with
        `migration_lock: :pg_advisory_lock` (or no lock) Ecto takes no table lock that a
        concurrent index build would wait on."""
        if "migration_lock" not in self.repo_config:
            return None
        lock = self.repo_config["migration_lock"]
        if lock is None or lock is False:
            return "the repo runs migrations without a lock"
        if str(lock) == "pg_advisory_lock":
            return "the repo uses migration_lock: :pg_advisory_lock"
        return None

    @property
    def pristine_url(self) -> str:
        return db.admin_url_for(self.state.admin_url, self.state.pristine)

    def scratch_url(self) -> str:
        """A copy of the pristine database with the new migrations applied (once per check run)."""
        if self._scratch is None and self._scratch_error is None:
            name = f"{self.state.database}_scratch"
            url = db.create_database(self.state.admin_url, name, template=self.state.pristine)
            try:
                db.apply_migrations(url, self.new_migrations)
                # Vacuumed like the pristine copy, so the costs compared differ by the migrations
                # only, not by a visibility map one side has and the other lacks.
                db.vacuum_analyze(url)
                self._scratch = url
            except InputError as exc:
                self._scratch_error = f"the new migrations do not apply: {exc}"
        if self._scratch_error:
            raise InputError(self._scratch_error)
        return self._scratch

    def source(self, relative: str) -> Path:
        path = self.workspace / relative
        if not path.is_file():
            raise InputError(f"{relative} is missing")
        return path


Check = Callable[[dict[str, Any], CheckContext], tuple[bool, str]]
CHECKS: dict[str, Check] = {}


def check(kind: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[kind] = fn
        return fn
    return register


def run_checks(case: Case, state: State, workspace: Path) -> CaseResult:
    ctx = CheckContext(case, state, Path(workspace))
    results = [_run_one(spec, ctx) for spec in case.checks]
    try:
        if ctx._scratch:
            db.drop_database(state.admin_url, f"{state.database}_scratch")
    except Exception:  # noqa: BLE001 - cleanup must not hide the verdicts
        pass
    return CaseResult(case=case.id, passed=bool(results) and all(r.passed for r in results), checks=results)


def _run_one(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    fn = CHECKS.get(spec.kind)
    if fn is None:
        return CheckResult(name=spec.label(), passed=False, detail=f"unknown check kind {spec.kind!r}")
    try:
        passed, detail = fn(spec.args, ctx)
    except InputError as exc:
        passed, detail = False, str(exc)
    return CheckResult(name=spec.label(), passed=passed, detail=detail)


# ---- the repo's production config ---------------------------------------------------------------

def production_repo_options(project: Path) -> dict[str, Any]:
    """Keyword options of `config :app, Something.Repo, ...` as production sees them: config.exs,
    prod.exs and runtime.exs, later files winning and keyword lists merged key by key, as
    Config.config/3 does (`parameters: [work_mem: ...]` in one file and `parameters:
    [lock_timeout: ...]` in another both apply)."""
    from tools.ecto.elixir import iter_calls, keywords, parse, value

    options: dict[str, Any] = {}
    for name in PRODUCTION_CONFIG:
        path = Path(project) / "config" / name
        if not path.is_file():
            continue
        try:
            tree = parse(path.read_bytes())
        except InputError:
            continue  # a config that does not parse would not boot the app either
        for call in iter_calls(tree.root_node):
            if call.name != "config" or len(call.args) < 3 or call.args[-1].type != "keywords":
                continue
            if call.args[1].type != "alias" or not call.args[1].text.decode().endswith("Repo"):
                continue
            for key, node in keywords(call.args[-1]):
                options[key] = _merge(options.get(key), value(node))
    return options


def _is_keyword_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(p, tuple) and len(p) == 2 for p in v)


def _merge(old: Any, new: Any) -> Any:
    if _is_keyword_list(old) and _is_keyword_list(new) and old and new:
        merged = dict(old)
        merged.update(dict(new))
        return list(merged.items())
    return new


def production_parameters(project: Path) -> dict[str, str]:
    """The repo's `parameters:` (session settings such as work_mem) production connects with."""
    params = production_repo_options(project).get("parameters") or []
    if isinstance(params, dict):
        params = list(params.items())
    result = {}
    for item in params if isinstance(params, list) else []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (str, int, float)):
            result[str(item[0])] = str(item[1])
    return result


# ---- migrations ---------------------------------------------------------------------------------

def _norm(expr: Any) -> str:
    """Compare columns and predicates ignoring case, quotes, spaces and redundant parentheses."""
    return re.sub(r"[\s\"()]", "", str(expr)).lower()


def _ops(migration: Migration) -> list[Any]:
    fn = migration.change or migration.up
    return list(fn.ops) if fn else []


def _created_tables(migration: Migration) -> set[str]:
    return {str(op.table.name) for op in _ops(migration) if isinstance(op, CreateTable)}


def _statements(op: Any) -> list[Any]:
    """The statements of an `execute "..."` (its up SQL), parsed; [] for anything else or SQL
    PostgreSQL would not parse either (applying the migration then says what is wrong)."""
    if not isinstance(op, Execute) or not isinstance(op.up, str):
        return []
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        return [raw.stmt for raw in parse_sql(op.up)]
    except ParseError:
        return []


def _is_drop_index(stmt: Any) -> bool:
    from pglast import ast
    from pglast.enums import ObjectType

    return isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_INDEX


def _is_index_work(op: Any) -> bool:
    if isinstance(op, (CreateIndex, DropIndex)):
        return True
    from pglast import ast

    statements = _statements(op)
    return bool(statements) and all(isinstance(s, ast.IndexStmt) or _is_drop_index(s) for s in statements)


def safe_concurrent_problems(migration: Migration, lock_free: str | None = None) -> list[str]:
    """Why a migration that builds or drops indexes concurrently is not safe to run, if it isn't.
    `lock_free` (why the repo needs no @disable_migration_lock) excuses that attribute."""
    problems = []
    if not migration.disable_ddl_transaction:
        problems.append("lacks @disable_ddl_transaction true")
    if not migration.disable_migration_lock and not lock_free:
        problems.append("lacks @disable_migration_lock true (or migration_lock: :pg_advisory_lock in the repo config)")
    others = [type(op).__name__ for op in _ops(migration) if not _is_index_work(op)]
    if others:
        problems.append(f"does other work in the same migration ({', '.join(others)})")
    return problems


@dataclass
class _BuiltIndex:
    """An index a migration creates, from `create index(...)` or `execute "CREATE INDEX ..."`."""

    table: str
    keys: list[str]  # normalised, sort directions dropped
    where: str | None
    include: list[str]
    unique: bool
    concurrently: bool
    line: int
    shown: str


@dataclass
class _DroppedIndex:
    name: str
    table: str | None  # unknown for DROP INDEX in SQL
    concurrently: bool
    line: int


def _key(columns: list[Any]) -> list[str]:
    """Key columns without their directions: `desc: :b` (a `(direction, column)` pair) is `b`.
    A backward scan serves ORDER BY b DESC from an ascending index just as well; where a mixed
    order needs the directions, the case's query_improves is what tells."""
    return [_norm(c[1] if isinstance(c, tuple) and len(c) == 2 else c) for c in columns]


def _index_elem(elem: Any) -> str:
    from pglast.stream import RawStream

    return _norm(elem.name if elem.name else RawStream()(elem.expr))


def _built_indexes(path: Path, migration: Migration) -> Iterator[_BuiltIndex]:
    from pglast import ast
    from pglast.stream import RawStream

    for op in _ops(migration):
        if isinstance(op, CreateIndex):
            index = op.index
            where = index.opts.get("where")
            include = index.opts.get("include") or []
            include = include if isinstance(include, list) else [include]  # an Expr when not a literal
            yield _BuiltIndex(str(index.table), _key(index.columns), None if where is None else str(where),
                              [_norm(c) for c in include], bool(index.opts.get("unique")),
                              index.opts.get("concurrently") is True, op.line,
                              f"{path.name}:{op.line} index({index.table}, {index.columns})")
        for stmt in _statements(op):
            if isinstance(stmt, ast.IndexStmt) and stmt.relation is not None:
                keys = [_index_elem(e) for e in stmt.indexParams or ()]
                yield _BuiltIndex(stmt.relation.relname, keys,
                                  RawStream()(stmt.whereClause) if stmt.whereClause is not None else None,
                                  [_index_elem(e) for e in stmt.indexIncludingParams or ()], bool(stmt.unique),
                                  bool(stmt.concurrent), op.line,
                                  f"{path.name}:{op.line} CREATE INDEX ON {stmt.relation.relname} ({', '.join(keys)})")


def _dropped_indexes(migration: Migration) -> Iterator[_DroppedIndex]:
    for op in _ops(migration):
        if isinstance(op, DropIndex):
            # Ecto names the index explicitly (name:) or from table and columns.
            yield _DroppedIndex(str(op.index.name), str(op.index.table), op.index.opts.get("concurrently") is True,
                                op.line)
        for stmt in _statements(op):
            if _is_drop_index(stmt):
                for names in stmt.objects:
                    yield _DroppedIndex(names[-1].sval, None, bool(stmt.concurrent), op.line)


_TEXT_TYPES = {"text", "varchar", "bpchar"}


def _conjuncts(predicate: Any) -> set[str]:
    return set(_terms(predicate))


def _predicate(predicate: Any) -> str:
    """A predicate in one spelling, for substring comparison."""
    return "and".join(_terms(predicate))


def _terms(predicate: Any) -> list[str]:
    """The AND-ed terms of a predicate, each normalised, without the text casts PostgreSQL prints
    (`(status)::text = 'pending'::text` is `status = 'pending'`)."""
    from pglast import ast, parse_sql
    from pglast.enums import BoolExprType
    from pglast.parser import ParseError
    from pglast.stream import RawStream

    try:
        (raw,) = parse_sql(f"SELECT 1 WHERE {predicate}")
        expr = raw.stmt.whereClause
    except (ParseError, ValueError):
        stripped = re.sub(r"::\s*(text|character varying|varchar)\b", "", str(predicate), flags=re.IGNORECASE)
        return [_norm(p) for p in re.split(r"\s+and\s+", stripped, flags=re.IGNORECASE) if p.strip()]

    def flatten(node: Any) -> list[Any]:
        if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
            return [term for arg in node.args for term in flatten(arg)]
        return [node]

    return [_norm(RawStream()(_uncast(term))) for term in flatten(expr)]


def _uncast(node: Any) -> Any:
    """`node` without casts to text types, which PostgreSQL adds when it prints a predicate."""
    from pglast import ast

    while isinstance(node, ast.TypeCast) and node.typeName is not None and \
            node.typeName.names[-1].sval in _TEXT_TYPES:
        node = node.arg
    if isinstance(node, ast.Node):
        for attr in node:
            value = getattr(node, attr)
            if isinstance(value, ast.Node):
                setattr(node, attr, _uncast(value))
            elif isinstance(value, tuple):
                setattr(node, attr, tuple(_uncast(v) for v in value))
    return node


@check("index_migration")
def index_migration(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """A new migration creates the index on `table` keyed by `columns` (or by one of the lists in
    `columns_any`), sort directions ignored; with `prefix: true` the columns only have to lead the
    index (whether the rest helps is for query_improves to judge). Optionally: `where` (its
    predicate contains this text), `where_all` (its predicate has each of these conjuncts, in any
    order, text casts ignored), `include`, `unique`. On an existing table it must be built
    concurrently, alone in its migration, outside a transaction and the migration lock. Both
    `create index(...)` and `execute "CREATE INDEX ..."` count."""
    table = args["table"]
    if "columns_any" in args:
        wanted = [_key(cols) for cols in args["columns_any"]]
    elif "columns" in args:
        wanted = [_key(args["columns"])]
    else:
        raise InputError("index_migration needs columns or columns_any")
    where_all = {term: _conjuncts(term) for term in args.get("where_all", [])}
    seen = []
    for path, migration, error in ctx.parsed_migrations():
        if migration is None:
            seen.append(f"{path.name}: {error}")
            continue
        for index in _built_indexes(path, migration):
            matches = any(index.keys[:len(w)] == w if args.get("prefix") else index.keys == w for w in wanted)
            if index.table != table or not matches:
                seen.append(f"{index.shown}: not the index needed")
                continue
            problems = []
            have = _conjuncts(index.where) if index.where else set()
            if "where" in args and _predicate(args["where"]) not in (_predicate(index.where) if index.where else ""):
                problems.append(f"its where: is {index.where!r}")
            missing = [term for term, parts in where_all.items() if not parts <= have]
            if missing:
                problems.append(f"its where: is {index.where!r}, which does not restrict it to "
                                + " and ".join(missing))
            if "include" in args and index.include != [_norm(c) for c in args["include"]]:
                problems.append(f"its include: is {index.include!r}")
            if "unique" in args and index.unique != args["unique"]:
                problems.append("uniqueness differs")
            if table not in _created_tables(migration):
                if not index.concurrently:
                    problems.append("is not built concurrently")
                problems += safe_concurrent_problems(migration, ctx.migration_lock_free)
            if problems:
                seen.append(f"{index.shown}: " + "; ".join(problems))
                continue
            return True, f"{index.shown} is the right index, built safely"
    if not ctx.new_migrations:
        return False, "no new migration"
    return False, "no safe migration creating the index: " + " | ".join(seen)



@check("index_dropped")
def index_dropped(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """A new migration drops the named index (`drop index(...)` or `execute "DROP INDEX
    CONCURRENTLY ..."`), concurrently and safely, and it is gone once the migrations are applied."""
    name = args["index"]
    for path, migration, error in ctx.parsed_migrations():
        if migration is None:
            continue
        for dropped in _dropped_indexes(migration):
            if _norm(dropped.name) != _norm(name):
                continue
            where = f"{path.name}:{dropped.line}"
            problems = [] if dropped.concurrently else ["not dropped concurrently"]
            problems += safe_concurrent_problems(migration, ctx.migration_lock_free)
            if problems:
                return False, f"{where} drops {name} but " + "; ".join(problems)
            if _index_exists(ctx.scratch_url(), name):
                return False, f"{name} still exists after applying the migrations"
            return True, f"{where} drops {name} concurrently and safely"
    return False, f"no new migration drops {name}"


def _index_exists(url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT 1 FROM pg_class WHERE relkind = 'i' AND relname = %s", (name,)).fetchone() \
            is not None


@check("migrations_safe")
def migrations_safe(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Every new or changed migration avoids the locks that take production down: indexes on
    existing tables built and dropped concurrently (and safely: see safe_concurrent_problems),
    foreign keys added NOT VALID and validated in a later migration. With no new migration it
    fails, unless `allow_none: true` (for tasks where a migration is one possible fix of several)."""
    if not ctx.new_migrations:
        if args.get("allow_none"):
            return True, "no new or changed migration"
        return False, "no new or changed migration"
    lock_free = ctx.migration_lock_free
    problems: list[str] = []
    for path, migration, error in ctx.parsed_migrations():
        if migration is None:
            problems.append(f"{path.name}: {error}")
            continue
        created = _created_tables(migration)
        for index in _built_indexes(path, migration):
            if index.table in created:
                continue
            if not index.concurrently:
                problems.append(f"{path.name}:{index.line}: index on {index.table} built without concurrently")
            else:
                problems += [f"{path.name}:{index.line}: concurrent index, but the migration {p}"
                             for p in safe_concurrent_problems(migration, lock_free)]
        for dropped in _dropped_indexes(migration):
            if dropped.table in created:
                continue
            if not dropped.concurrently:
                # DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: reads queue behind it.
                problems.append(f"{path.name}:{dropped.line}: index {dropped.name} dropped without concurrently")
            else:
                problems += [f"{path.name}:{dropped.line}: concurrent drop, but the migration {p}"
                             for p in safe_concurrent_problems(migration, lock_free)]
        ops = _ops(migration)
        for op in ops:
            where = f"{path.name}:{op.line}"
            if isinstance(op, AlterTable) and str(op.table.name) not in created:
                for change in op.changes:
                    ref = getattr(change, "type", None)
                    if isinstance(change, ColumnChange) and change.action in ("add", "modify") and \
                            type(ref).__name__ == "Reference" and ref.opts.get("validate") is not False:
                        problems.append(f"{where}: foreign key on existing table {op.table.name} validated "
                                        "under lock (use validate: false, then VALIDATE in a later migration)")
            if isinstance(op, Execute) and "validate constraint" in str(op.up).lower():
                added_here = any(isinstance(o, AlterTable) and any(
                    type(getattr(c, "type", None)).__name__ == "Reference" for c in o.changes) for o in ops)
                if added_here:
                    problems.append(f"{where}: VALIDATE CONSTRAINT in the same migration that adds it")
    if problems:
        return False, "; ".join(dict.fromkeys(problems))
    note = f" ({lock_free})" if lock_free else ""
    return True, f"{len(ctx.new_migrations)} migration(s) reviewed, none takes a blocking lock{note}"


@check("schema_has")
def schema_has(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """After applying the new migrations: an index on table(columns) exists and is valid, and/or a
    constraint exists and is validated, and/or extended statistics exist on a table."""
    import psycopg

    url = ctx.scratch_url()
    with psycopg.connect(url) as conn:
        if "index" in args:
            table, cols = args["index"]["table"], [_norm(c) for c in args["index"]["columns"]]
            rows = conn.execute("""
                SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisvalid
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                WHERE t.relname = %s""", (table,)).fetchall()
            match = [r for r in rows if _index_key(r[1]) == cols]
            if not match:
                return False, f"no index on {table}({', '.join(args['index']['columns'])}); found " + \
                    (", ".join(r[0] for r in rows) or "none")
            if not match[0][2]:
                return False, f"index {match[0][0]} exists but is INVALID"
        if "constraint" in args:
            row = conn.execute("SELECT convalidated FROM pg_constraint WHERE conname = %s",
                               (args["constraint"],)).fetchone()
            if row is None:
                return False, f"constraint {args['constraint']} does not exist"
            if not row[0]:
                return False, f"constraint {args['constraint']} exists but is NOT VALID"
        if "statistics_on" in args:
            row = conn.execute("""SELECT count(*) FROM pg_statistic_ext s JOIN pg_class t ON t.oid = s.stxrelid
                                  WHERE t.relname = %s""", (args["statistics_on"],)).fetchone()
            if not row[0]:
                return False, f"no extended statistics on {args['statistics_on']}"
    return True, "the schema has " + ", ".join(k for k in ("index", "constraint", "statistics_on") if k in args)


def _index_key(indexdef: str) -> list[str]:
    """Key columns of `CREATE INDEX ... ON public.t USING btree (a, lower(b)) WHERE ...`."""
    inside = indexdef.split(" USING ", 1)[1]
    start = inside.index("(")
    depth, end = 0, start
    for i, ch in enumerate(inside[start:], start):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            end = i
            break
    parts, depth, current = [], 0, ""
    for ch in inside[start + 1:end]:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    parts.append(current)
    return [_norm(p) for p in parts]


# ---- the database after the change --------------------------------------------------------------

@check("query_improves")
def query_improves(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """The target query's plan cost falls by min_ratio (default 10) once the new migrations are
    applied to a copy of the untouched database; optionally it must use an index on a table."""
    sql, params, ratio = args["sql"], args.get("params"), float(args.get("min_ratio", 10))
    before = db.plan_cost(ctx.pristine_url, sql, params)
    after = db.plan_cost(ctx.scratch_url(), sql, params)
    gain = before["cost"] / max(after["cost"], 0.01)
    detail = f"cost {before['cost']:.0f} -> {after['cost']:.0f} ({gain:.1f}x, need {ratio:g}x)"
    if "uses_index_on" in args:
        scans = [n for n in after["plan"].nodes if n.relation == args["uses_index_on"]]
        if not any(n.node_type in INDEXED_SCANS for n in scans):
            return False, detail + f"; the plan does not use an index on {args['uses_index_on']}"
    return gain >= ratio, detail


@check("no_disk_sort")
def no_disk_sort(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Run the query (sql, params) on the migrated copy with the settings production would run it
    with: the repo's `parameters:` from the config production loads (config.exs, prod.exs,
    runtime.exs; not dev.exs), and with `file` and `function`, what that function (or a local
    function it reaches) applies to its own transaction (`SET LOCAL work_mem = '64MB'`,
    `set_config('work_mem', '64MB', true)`). No sort or hash may spill to disk any more."""
    from tools.ecto.code import read_module, reachable, transaction_settings

    settings = production_parameters(ctx.workspace)
    notes: list[str] = []
    if "file" in args or "function" in args:
        if not (args.get("file") and args.get("function")):
            raise InputError("no_disk_sort reads the code's settings from a file and a function: give both")
        module = read_module(ctx.source(args["file"]))
        functions = reachable(module, args["function"])
        if not functions:
            raise InputError(f"{args['file']} has no function {args['function']}")
        local, notes = transaction_settings(functions)
        settings.update(local)
    after = db.plan_cost(ctx.scratch_url(), args["sql"], args.get("params"), analyze=True, settings=settings)
    spills = [n for n in after["plan"].nodes if n.get("Sort Space Type") == "Disk" or
              (n.get("Hash Batches") or 1) > 1 or (n.get("Disk Usage") or 0) > 0]
    extra = "".join(f"; {n}" for n in notes)
    if spills:
        return False, f"still spills to disk in {spills[0].node_type} (settings: {settings or 'none'}){extra}"
    return True, f"no spill to disk (settings: {settings or 'none'}, {after['ms']:.0f} ms){extra}"


@check("estimate_ok")
def estimate_ok(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """On the migrated copy, the scans of `relation` are estimated within max_factor (default 10).
    A scan that returned no rows per loop is judged against one row (the least the planner ever
    estimates; EXPLAIN rounds rows per loop, so 0 may be a fraction), and the detail says so."""
    limit = float(args.get("max_factor", 10))
    relation = args["relation"]
    after = db.plan_cost(ctx.scratch_url(), args["sql"], args.get("params"), analyze=True)
    scans = [n for n in after["plan"].nodes if n.relation == relation and n.analyzed]
    ran = [n for n in scans if not n.never_executed]
    if not ran:
        what = "never ran" if scans else "is not in the plan"
        return False, f"the scan of {relation} {what}: nothing to judge the estimate by"
    factors, zero = [], []
    for n in ran:
        if n.estimate_factor is not None:
            factors.append(n.estimate_factor)
        elif not n.actual_rows:
            zero.append(n)
            factors.append(max(n.plan_rows, 1.0))
        else:
            factors.append(max(n.actual_rows, 1.0) / max(n.plan_rows, 1.0))
    worst = max(factors)
    note = ""
    if zero:
        note = (f"; {len(zero)} scan(s) returned 0 rows per loop, judged as 1 row against "
                f"{', '.join(f'{n.plan_rows:g}' for n in zero)} estimated")
    return worst < limit, f"worst estimate factor on {relation}: {worst:.1f}x (need < {limit:g}x){note}"


# ---- code ---------------------------------------------------------------------------------------

def _module(args: dict[str, Any], ctx: CheckContext):
    from tools.ecto.code import read_module

    module = read_module(ctx.source(args["file"]))
    if not module.named(args["function"]):
        raise InputError(f"{args['file']} has no function {args['function']}")
    return module


@check("no_repo_in_loop")
def no_repo_in_loop(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """The function makes no Repo call per element of a collection (directly or one call deep)."""
    from tools.ecto.code import repo_calls_in_loops

    module = _module(args, ctx)
    found = [c for f in module.named(args["function"]) for c in repo_calls_in_loops(f, module)]
    if found:
        c = found[0]
        via = f" via {c.via}" if c.via else ""
        return False, f"{args['file']}:{c.line} {c.name} runs inside {c.loop} (line {c.loop_line}){via}"
    return True, f"{args['function']} makes no Repo call inside a loop"


@check("code_shape")
def code_shape(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """The code of `function` in `file` has every `require` marker, none of `forbid`, at least one
    of `any`, and names each of `fields` (as an atom `:title`, a field access `a.title` or a key
    `title:`). Markers are those of tools.ecto.code.code_markers (call:, field:, kw:, op:, atom:,
    pin-compare, pin-in, sql:). The code read is the function's, the module attributes it reads,
    and every local function it reaches (so a fix in a private helper counts, and so does a
    forbidden shape hidden in one); `follow_local: false` reads the function alone."""
    from tools.ecto.code import function_markers

    module = _module(args, ctx)
    markers, functions = function_markers(module, args["function"], follow_local=args.get("follow_local", True))
    missing = [m for m in args.get("require", []) if m not in markers]
    missing += [f for f in args.get("fields", []) if not {f"atom:{f}", f"field:{f}", f"kw:{f}"} & markers]
    present = [m for m in args.get("forbid", []) if m in markers]
    alternatives = args.get("any", [])
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if present:
        problems.append("still has " + ", ".join(present))
    if alternatives and not any(m in markers for m in alternatives):
        problems.append("has none of " + ", ".join(alternatives))
    read = ", ".join(sorted({f.name for f in functions}))
    if problems:
        return False, f"{args['function']} (read: {read}): " + "; ".join(problems)
    return True, f"{args['function']} has the expected shape (read: {read})"


# ---- files --------------------------------------------------------------------------------------

@check("untouched")
def untouched(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Files the task does not concern are unchanged; new files only where the task allows them
    (the case's may_change, plus `allow`). The case's pending migrations were never deployed, so
    deleting one is allowed: replacing it by migrations of one's own is a fair way to make it safe
    (whether the schema still ends up right is for schema_has to judge)."""
    allowed = list(ctx.case.may_change) + list(args.get("allow", []))
    pending = set(ctx.case.pending_migrations)

    def ok(path: str) -> bool:
        return any(fnmatch.fnmatch(path, pattern) for pattern in allowed)

    bad = [f"changed {p}" for p in ctx.modified if not ok(p)]
    bad += [f"deleted {p}" for p in ctx.deleted if p not in pending]
    bad += [f"added {p}" for p in ctx.added if not ok(p)]
    if bad:
        return False, "; ".join(bad[:10])
    gone = [p for p in ctx.deleted if p in pending]
    also = f", {len(gone)} pending migration(s) deleted" if gone else ""
    return True, f"{len(ctx.added)} added, {len(ctx.modified)} changed{also}, all within {', '.join(allowed)}"


# ---- combinations -------------------------------------------------------------------------------

@check("any_of")
def any_of(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Passes when one of the listed checks passes (alternative correct fixes)."""
    details = []
    for spec in args["checks"]:
        result = _run_one(CheckSpec.model_validate(spec), ctx)
        if result.passed:
            return True, f"{result.name}: {result.detail}"
        details.append(f"{result.name}: {result.detail}")
    return False, " | ".join(details)


@check("all_of")
def all_of(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Passes when every listed check passes (one alternative of an any_of that takes several
    conditions). All are run, so the detail names every one that failed."""
    results = [_run_one(CheckSpec.model_validate(spec), ctx) for spec in args["checks"]]
    if not results:
        raise InputError("all_of needs at least one check")
    failed = [r for r in results if not r.passed]
    if failed:
        return False, " | ".join(f"{r.name}: {r.detail}" for r in failed)
    return True, " | ".join(f"{r.name}: {r.detail}" for r in results)


# The partitioning and materialized-view kinds live beside these; importing them registers them.
from evals import checks_beyond  # noqa: E402,F401
