"""Check kinds: each judges an outcome by executing something, never by matching prose.

A case's case.json lists checks as {"kind": ..., "args": {...}}. Each kind is one function
here, registered in CHECKS, taking the args and a CheckContext and returning (passed, detail).
Migrations are judged on Elixir's syntax tree and by applying them to a scratch copy of the
case's pristine database; code changes on the syntax tree of the functions named.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from evals import database as db
from evals.case import Case, CheckSpec
from evals.workspace import State, fingerprint
from tools.ecto.migration import AlterTable, ColumnChange, CreateIndex, CreateTable, DropIndex, Execute, Migration, \
    parse_migration
from tools.errors import InputError

MIGRATIONS_GLOB = "priv/repo/migrations/*.exs"
INDEXED_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


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
                db.run_script(url, "ANALYZE")
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


# ---- migrations ---------------------------------------------------------------------------------

def _norm(expr: Any) -> str:
    """Compare columns and predicates ignoring case, quotes, spaces and redundant parentheses."""
    return re.sub(r"[\s\"()]", "", str(expr)).lower()


def _ops(migration: Migration) -> list[Any]:
    fn = migration.change or migration.up
    return list(fn.ops) if fn else []


def _created_tables(migration: Migration) -> set[str]:
    return {str(op.table.name) for op in _ops(migration) if isinstance(op, CreateTable)}


def safe_concurrent_problems(migration: Migration) -> list[str]:
    """Why a migration that builds or drops indexes concurrently is not safe to run, if it isn't."""
    problems = []
    if not migration.disable_ddl_transaction:
        problems.append("lacks @disable_ddl_transaction true")
    if not migration.disable_migration_lock:
        problems.append("lacks @disable_migration_lock true")
    others = [type(op).__name__ for op in _ops(migration) if not isinstance(op, (CreateIndex, DropIndex))]
    if others:
        problems.append(f"does other work in the same migration ({', '.join(others)})")
    return problems


@check("index_migration")
def index_migration(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """A new migration creates the index (table, key columns in order, optional where/include/unique),
    concurrently, alone in its migration, with both attributes. With `prefix: true` the columns only
    have to lead the index (whether the rest helps is for query_improves to judge)."""
    table, columns = args["table"], [_norm(c) for c in args["columns"]]
    seen = []
    for path, migration, error in ctx.parsed_migrations():
        if migration is None:
            seen.append(f"{path.name}: {error}")
            continue
        for op in _ops(migration):
            if not isinstance(op, CreateIndex):
                continue
            index = op.index
            shown = f"{path.name}:{op.line} index({index.table}, {index.columns})"
            keys = [_norm(c) for c in index.columns]
            matches = keys[:len(columns)] == columns if args.get("prefix") else keys == columns
            if str(index.table) != table or not matches:
                seen.append(f"{shown}: not the index needed")
                continue
            problems = []
            if "where" in args and _norm(args["where"]) not in _norm(index.opts.get("where", "")):
                problems.append(f"its where: is {index.opts.get('where')!r}")
            if "include" in args and [_norm(c) for c in index.opts.get("include", [])] != \
                    [_norm(c) for c in args["include"]]:
                problems.append(f"its include: is {index.opts.get('include')!r}")
            if "unique" in args and bool(index.opts.get("unique")) != args["unique"]:
                problems.append("uniqueness differs")
            if table not in _created_tables(migration):
                if index.opts.get("concurrently") is not True:
                    problems.append("is not built concurrently")
                problems += safe_concurrent_problems(migration)
            if problems:
                seen.append(f"{shown}: " + "; ".join(problems))
                continue
            return True, f"{shown} is the right index, built safely"
    if not ctx.new_migrations:
        return False, "no new migration"
    return False, "no safe migration creating the index: " + " | ".join(seen)


@check("index_dropped")
def index_dropped(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """A new migration drops the named index concurrently and safely, and it is gone when applied."""
    name = args["index"]
    for path, migration, error in ctx.parsed_migrations():
        if migration is None:
            continue
        for op in _ops(migration):
            if isinstance(op, DropIndex) and str(op.index.opts.get("name", "")) == name or (
                    isinstance(op, DropIndex) and _norm(_default_name(op)) == _norm(name)):
                problems = [] if op.index.opts.get("concurrently") is True else ["not dropped concurrently"]
                problems += safe_concurrent_problems(migration)
                if problems:
                    return False, f"{path.name}:{op.line} drops {name} but " + "; ".join(problems)
                exists = _index_exists(ctx.scratch_url(), name)
                if exists:
                    return False, f"{name} still exists after applying the migrations"
                return True, f"{path.name}:{op.line} drops {name} concurrently and safely"
    return False, f"no new migration drops {name}"


def _default_name(op: DropIndex) -> str:
    from tools.ecto.migration import default_index_name

    return str(default_index_name(op.index.table, op.index.columns))


def _index_exists(url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT 1 FROM pg_class WHERE relkind = 'i' AND relname = %s", (name,)).fetchone() \
            is not None


@check("migrations_safe")
def migrations_safe(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Every new or changed migration avoids the locks that take production down: indexes on
    existing tables built concurrently (safely), foreign keys and checks added NOT VALID and
    validated in a later migration."""
    if not ctx.new_migrations:
        return False, "no new or changed migration"
    problems: list[str] = []
    for path, migration, error in ctx.parsed_migrations():
        if migration is None:
            problems.append(f"{path.name}: {error}")
            continue
        created = _created_tables(migration)
        ops = _ops(migration)
        for op in ops:
            where = f"{path.name}:{op.line}"
            if isinstance(op, CreateIndex) and str(op.index.table) not in created:
                if op.index.opts.get("concurrently") is not True:
                    problems.append(f"{where}: index on {op.index.table} built without concurrently")
                else:
                    problems += [f"{where}: concurrent index, but the migration {p}"
                                 for p in safe_concurrent_problems(migration)]
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
        return False, "; ".join(problems)
    return True, f"{len(ctx.new_migrations)} migration(s) reviewed, none takes a blocking lock"


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
    """Run with the repo's configured parameters (config/*.exs `parameters:`) on the migrated copy:
    no sort or hash spills to disk any more."""
    from tools.ecto.config import repo_parameters

    settings = repo_parameters(ctx.workspace)
    after = db.plan_cost(ctx.scratch_url(), args["sql"], args.get("params"), analyze=True, settings=settings)
    spills = [n for n in after["plan"].nodes if n.get("Sort Space Type") == "Disk" or
              (n.get("Hash Batches") or 1) > 1 or (n.get("Disk Usage") or 0) > 0]
    if spills:
        return False, f"still spills to disk in {spills[0].node_type} (settings: {settings or 'none'})"
    return True, f"no spill to disk (settings: {settings or 'none'}, {after['ms']:.0f} ms)"


@check("estimate_ok")
def estimate_ok(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """On the migrated copy, the scan of `relation` is estimated within max_factor (default 10)."""
    limit = float(args.get("max_factor", 10))
    after = db.plan_cost(ctx.scratch_url(), args["sql"], args.get("params"), analyze=True)
    scans = [n for n in after["plan"].nodes if n.relation == args["relation"] and n.estimate_factor]
    if not scans:
        return False, f"no analysed scan of {args['relation']} in the plan"
    worst = max(n.estimate_factor for n in scans)
    return worst < limit, f"worst estimate factor on {args['relation']}: {worst:.1f}x (need < {limit:g}x)"


# ---- code ---------------------------------------------------------------------------------------

def _function(args: dict[str, Any], ctx: CheckContext):
    from tools.ecto.code import read_module

    module = read_module(ctx.source(args["file"]))
    functions = module.named(args["function"])
    if not functions:
        raise InputError(f"{args['file']} has no function {args['function']}")
    return module, functions


@check("no_repo_in_loop")
def no_repo_in_loop(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """The function makes no Repo call per element of a collection (directly or one call deep)."""
    from tools.ecto.code import repo_calls_in_loops

    module, functions = _function(args, ctx)
    found = [c for f in functions for c in repo_calls_in_loops(f, module)]
    if found:
        c = found[0]
        via = f" via {c.via}" if c.via else ""
        return False, f"{args['file']}:{c.line} {c.name} runs inside {c.loop} (line {c.loop_line}){via}"
    return True, f"{args['function']} makes no Repo call inside a loop"


@check("code_shape")
def code_shape(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """The function's code contains every `require` marker and none of `forbid`, where markers are
    `call:NAME` (a call, e.g. call:preload, call:exists), `kw:NAME` (a keyword option, e.g. kw:offset,
    kw:select), `op:OP` (a binary operator, e.g. op:in, op:>), `pin-compare` (a comparison with a ^pin)
    and `atom:NAME`. `any` lists alternatives of which at least one must hold."""
    from tools.ecto.code import code_markers

    _, functions = _function(args, ctx)
    markers = set().union(*(code_markers(f) for f in functions))
    missing = [m for m in args.get("require", []) if m not in markers]
    present = [m for m in args.get("forbid", []) if m in markers]
    alternatives = args.get("any", [])
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if present:
        problems.append("still has " + ", ".join(present))
    if alternatives and not any(m in markers for m in alternatives):
        problems.append("has none of " + ", ".join(alternatives))
    if problems:
        return False, f"{args['function']}: " + "; ".join(problems)
    return True, f"{args['function']} has the expected shape"


@check("untouched")
def untouched(args: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    """Files the task does not concern are unchanged; new files only where the task allows them."""
    allowed = list(ctx.case.may_change) + list(args.get("allow", []))

    def ok(path: str) -> bool:
        return any(fnmatch.fnmatch(path, pattern) for pattern in allowed)

    bad = [f"changed {p}" for p in ctx.modified if not ok(p)]
    bad += [f"deleted {p}" for p in ctx.deleted]
    bad += [f"added {p}" for p in ctx.added if not ok(p)]
    if bad:
        return False, "; ".join(bad[:10])
    return True, f"{len(ctx.added)} added, {len(ctx.modified)} changed, all within {', '.join(allowed)}"


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
