"""Running the rules over migration files.

Each migrations directory is one repo's history: every file in it is read (in Ecto's order) so
the rules know the schema each migration starts from, but only the selected files are reported
(the paths given, minus `--since`, `exclude` and excellent_migrations' `start_after`).

Suppression comments:
- `# excellent_migrations:safety-assured-for-next-line <check> [<check>…]` and
  `# excellent_migrations:safety-assured-for-this-file <check> …`, with excellent_migrations'
  check names (or our rule ids);
- `# ecto-optimizer:ignore [<rule-id>, …]` on the line before the statement or at the end of
  its line, and `# ecto-optimizer:ignore-file [<rule-id>, …]`; without ids they silence every
  rule. A comment above an `alter table` covers the columns inside it.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tools.ecto import elixir as ex
from tools.ecto.migration import Migration, migration_version, parse_migration
from tools.errors import InputError
from tools.migrations.actions import Action, EctoDefaults, ecto_actions
from tools.migrations.project import (
    LintConfig, Project, RepoSettings, excellent_skips, find_root, load_config, read_configs,
    repo_for,
)
from tools.migrations.rules import EXCELLENT_MIGRATIONS, RULES, rule_ids
from tools.migrations.rules.base import SEVERITY_RANK, Context, Finding, Settings
from tools.migrations.schema import SchemaState

DEFAULT_PATH = Path("priv/repo/migrations")
DEFAULT_PG_VERSION = 14


@dataclass
class MigrationFile:
    path: Path
    display: str
    version: int | None
    source: bytes
    migration: Migration | None
    actions: list[Action] = field(default_factory=list)
    selected: bool = False
    data_migration: bool = False


@dataclass
class LintResult:
    files: list[MigrationFile]
    findings: list[Finding]
    suppressed: int = 0
    notes: list[str] = field(default_factory=list)
    root: Path | None = None
    settings: Settings | None = None
    seconds: float = 0.0
    repo_config: Any = None  # tools.ecto.migration_sql.RepoConfig for the checked directory

    @property
    def checked(self) -> list[MigrationFile]:
        return [f for f in self.files if f.selected]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {"error": c["error"], "warning": c["warning"], "info": c["info"]}

    def as_json(self) -> dict[str, Any]:
        return {"files": [f.display for f in self.checked],
                "findings": [f.as_json() for f in self.findings],
                "summary": {**self.counts(), "suppressed": self.suppressed},
                "notes": list(self.notes)}

    def text(self, *, min_severity: str = "info", fixes: bool = True) -> str:
        limit = SEVERITY_RANK[min_severity]
        lines: list[str] = []
        for f in self.findings:
            if SEVERITY_RANK[f.severity] > limit:
                continue
            lines.append(f"{f.file}:{f.line}: {f.severity} [{f.rule}] {f.message}")
            if f.lock and f.severity != "info":
                lines.append(f"    lock: {f.lock}")
            if fixes and f.fix and f.severity != "info":
                lines.append("    fix:")
                lines.extend("      " + row if row else "" for row in f.fix.splitlines())
        counts = self.counts()
        n = len(self.checked)
        summary = (f"{n} migration{'s' if n != 1 else ''} checked: {counts['error']} error(s), "
                   f"{counts['warning']} warning(s), {counts['info']} info")
        if self.suppressed:
            summary += f", {self.suppressed} suppressed"
        hidden = sum(1 for f in self.findings if SEVERITY_RANK[f.severity] > limit)
        if hidden:
            summary += f" ({hidden} below {min_severity} not shown)"
        lines += [f"note: {note}" for note in self.notes]
        lines.append(summary)
        return "\n".join(lines)


# ---- entry points -------------------------------------------------------------------------------

def lint_paths(paths: Iterable[str | Path] | None = None, *, since: str | int | None = None,
               config_path: str | Path | None = None, pg_version: int | None = None,
               cwd: Path | None = None, root: Path | None = None) -> LintResult:
    started = time.perf_counter()
    cwd = Path(cwd or os.getcwd())
    given = [Path(p) for p in (paths or [])] or [DEFAULT_PATH]
    targets = [(p if p.is_absolute() else cwd / p) for p in given]
    for raw, path in zip(given, targets):
        if not path.exists():
            raise InputError(f"no such file or directory: {raw}")
    root = root or find_root(targets[0]) or cwd
    config = load_config(root, Path(config_path) if config_path else None)
    repos, excellent = read_configs(root) if root is not None else ({}, {})
    skips, start_after = excellent_skips(excellent)
    since_v = _since(since, config, start_after)
    project = Project(root if (root / "mix.exs").is_file() else None)

    groups: dict[Path, set[Path] | None] = {}  # directory -> selected files (None: all)
    for path in targets:
        if path.is_dir():
            groups[path.resolve()] = None
        else:
            if path.suffix != ".exs":
                raise InputError(f"not an Elixir script (.exs): {path}")
            selected = groups.setdefault(path.resolve().parent, set())
            if selected is not None:
                selected.add(path.resolve())

    result = LintResult(files=[], findings=[], root=root)
    for directory, selected in groups.items():
        repo = repo_for(repos, directory)
        settings = Settings(
            pg_version=pg_version or config.pg_version or DEFAULT_PG_VERSION,
            migration_lock=config.migration_lock or (repo.migration_lock if repo else "table_lock"),
            lock_timeout_configured=bool(repo and repo.lock_timeout))
        result.settings = settings
        result.repo_config = _repo_config(repo)
        files = _read_dir(directory, selected, cwd, config, since_v, result)
        if not any(f.selected for f in files):
            continue
        _lint_group(files, settings, _defaults(repo), project, config, skips, result)
    if not result.files:
        raise InputError("no migration files found in " + ", ".join(str(p) for p in given))
    result.seconds = time.perf_counter() - started
    return result


def lint_source(source: str, *, path: str = "priv/repo/migrations/20240101000000_example.exs",
                before: Iterable[str] = (), settings: Settings | None = None,
                project: Project | None = None, data_migration: bool = False,
                rules: Iterable[str] | None = None) -> list[Finding]:
    """Lint one migration given as text, after `before` (earlier migrations' full sources)."""
    before = list(before)
    files = []
    for i, text in enumerate([*before, source]):
        last = i == len(before)
        mig = parse_migration(text, path=path if last else f"before_{i}.exs")
        files.append(MigrationFile(Path(path), path, None, text.encode(), mig,
                                   selected=last, data_migration=data_migration and last))
    result = LintResult(files=[], findings=[])
    wanted = set(rules) if rules is not None else None
    _lint_group(files, settings or Settings(), EctoDefaults(), project, LintConfig(), set(), result,
                only=wanted)
    return result.findings


# ---- internals ----------------------------------------------------------------------------------

def _since(since: str | int | None, config: LintConfig, start_after: int | None) -> int | None:
    from tools.migrations.project import parse_version

    if since is not None:
        return since if isinstance(since, int) else parse_version(str(since))
    return config.since if config.since is not None else start_after


def _defaults(repo: RepoSettings | None) -> EctoDefaults:
    if repo is None:
        return EctoDefaults()
    return EctoDefaults(primary_key=repo.primary_key, foreign_key=repo.foreign_key,
                        timestamps=repo.timestamps)


def _repo_config(repo: RepoSettings | None) -> Any:
    from tools.ecto.migration_sql import RepoConfig

    if repo is None:
        return RepoConfig()
    return RepoConfig(primary_key=repo.primary_key, foreign_key=repo.foreign_key,
                      timestamps=repo.timestamps)


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)


def _read_dir(directory: Path, selected: set[Path] | None, cwd: Path, config: LintConfig,
              since: int | None, result: LintResult) -> list[MigrationFile]:
    entries = []
    for path in sorted(directory.glob("*.exs")):
        try:
            version = migration_version(path)
        except InputError:
            version = None
        entries.append((version is None, version or 0, path.name, path, version))
    entries.sort()
    seen: dict[int, Path] = {}
    files = []
    data_dir = any(part in config.data_migrations for part in directory.parts) or any(
        fnmatch.fnmatch(str(directory), pattern) for pattern in config.data_migrations)
    for _, _, _, path, version in entries:
        chosen = selected is None or path in selected
        if version is None and (selected is None or path not in selected):
            continue  # Ecto ignores files that are not <version>_<name>.exs
        if version is not None and version in seen:
            raise InputError(f"migration version {version} is duplicated "
                             f"({seen[version].name} and {path.name})")
        if version is not None:
            seen[version] = path
        display = _display(path, cwd)
        if chosen and since is not None and version is not None and version <= since:
            chosen = False
        if chosen and any(fnmatch.fnmatch(display, g) or fnmatch.fnmatch(path.name, g)
                          for g in config.exclude):
            chosen = False
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {display}: {exc.strerror}") from None
        try:
            migration = parse_migration(source, path=display)
        except InputError:
            if chosen:
                raise
            result.notes.append(f"{display} does not parse; read as history only, it was skipped")
            migration = None
        mf = MigrationFile(path, display, version, source, migration, selected=chosen,
                           data_migration=data_dir)
        files.append(mf)
        if chosen:
            result.files.append(mf)
    return files


def _lint_group(files: list[MigrationFile], settings: Settings, defaults: EctoDefaults,
                project: Project | None, config: LintConfig, skips: set[str], result: LintResult,
                only: set[str] | None = None) -> None:
    for f in files:
        if f.migration is not None:
            f.actions = ecto_actions(f.migration, defaults)
    final = SchemaState()
    for f in files:
        for act in f.actions:
            final.apply(act)
    state = SchemaState()
    disabled = config.disable | skips
    for f in files:
        if f.selected and f.migration is not None:
            ctx = Context(migration=f.migration, file=f.display, actions=f.actions, state=state,
                          settings=settings, project=project, final=final,
                          data_migration=f.data_migration)
            found: list[Finding] = []
            for rule in RULES:
                if rule.id in disabled or (only is not None and rule.id not in only):
                    continue
                for finding in rule.check(ctx):
                    level = config.severity.get(rule.id)
                    if level == "off":
                        continue
                    if level:
                        finding.severity = level
                    found.append(finding)
            kept, hidden = _suppress(f.source, found)
            result.suppressed += hidden
            kept.sort(key=lambda x: (x.line, SEVERITY_RANK[x.severity]))
            result.findings.extend(kept)
        for act in f.actions:
            state.apply(act)


# ---- suppression --------------------------------------------------------------------------------

_MARKERS = (b"excellent_migrations:", b"ecto-optimizer:")


def _suppress(source: bytes, findings: list[Finding]) -> tuple[list[Finding], int]:
    if not findings or not any(m in source for m in _MARKERS):
        return findings, 0
    by_line, whole_file = suppressions(source)
    kept = []
    for f in findings:
        rules = whole_file | by_line.get(f.line, set()) | by_line.get(f.stmt_line, set())
        if "*" in rules or f.rule in rules:
            continue
        kept.append(f)
    return kept, len(findings) - len(kept)


def suppressions(source: bytes) -> tuple[dict[int, set[str]], set[str]]:
    """line -> rule ids silenced on it, and the ids silenced for the whole file ('*' = all).
    Comments are found in the syntax tree, so a marker inside a string or heredoc is ignored."""
    tree = ex.parse(source)
    lines = source.decode("utf-8", errors="replace").split("\n")
    by_line: dict[int, set[str]] = {}
    whole: set[str] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "comment":
            text = ex.text(node).lstrip("#").strip()
            parsed = _parse_marker(text)
            if parsed is not None:
                scope, ids = parsed
                row = node.start_point[0]
                if scope == "file":
                    whole |= ids
                else:
                    trailing = bool(lines[row][:node.start_point[1]].strip())
                    target = row + 1 if trailing else _next_code_line(lines, row)
                    by_line.setdefault(target, set()).update(ids)
        stack.extend(node.children)
    return by_line, whole


def _parse_marker(text: str) -> tuple[str, set[str]] | None:
    for prefix, scope in (("excellent_migrations:safety-assured-for-next-line", "line"),
                          ("excellent_migrations:safety-assured-for-this-file", "file"),
                          ("ecto-optimizer:ignore-file", "file"),
                          ("ecto-optimizer:ignore", "line")):
        if text.startswith(prefix):
            names = [n for n in text[len(prefix):].replace(",", " ").split() if n]
            if not names:
                return scope, {"*"}
            ids: set[str] = set()
            known = set(rule_ids())
            for n in names:
                if n in EXCELLENT_MIGRATIONS:
                    ids.update(EXCELLENT_MIGRATIONS[n])
                elif n in known or n == "all":
                    ids.add("*" if n == "all" else n)
            return scope, ids
    return None


def _next_code_line(lines: list[str], row: int) -> int:
    """1-based number of the first line after `row` (0-based) that holds code."""
    for i in range(row + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i + 1
    return row + 2


# ---- rule examples ------------------------------------------------------------------------------

def module_source(body: str, name: str = "Example") -> str:
    """A rule example's body as a whole migration file."""
    if body.lstrip().startswith("defmodule"):
        return body
    inner = "\n".join(("  " + row) if row else "" for row in body.splitlines())
    return f"defmodule MyApp.Repo.Migrations.{name} do\n  use Ecto.Migration\n\n{inner}\nend\n"


def run_example(rule_id: str, example: Any) -> list[Finding]:
    """The findings of one rule on one of its documented examples."""
    from tools.migrations.project import SchemaRef

    opts = dict(example.options)
    schema = opts.pop("schema", None)
    path = opts.pop("file", "priv/repo/migrations/20240101000000_example.exs")
    settings = Settings(**opts)
    project = None
    if schema is not None:
        project = Project(None, {t: {c: SchemaRef("MyApp.Schema", "lib/my_app/schema.ex", 1) for c in cols}
                                 for t, cols in schema.items()})
    before = [module_source(b, f"Before{i}") for i, b in enumerate(example.before)]
    return lint_source(module_source(example.source), path=path, before=before, settings=settings,
                       project=project, data_migration="data_migrations" in path, rules=[rule_id])
