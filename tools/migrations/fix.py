"""`--fix`: the rewrites that are mechanical, made on the syntax tree.

- an index on an existing table gets `concurrently: true`; a migration that then holds
  nothing but index operations gets `@disable_ddl_transaction true` (and
  `@disable_migration_lock true` unless the repo uses the advisory lock); otherwise its index
  operations move to a new migration of their own, right after it;
- `references(...)` and check constraints on existing tables get `validate: false`, and a new
  migration right after validates them by Ecto's real constraint name (`<table>_<column>_fkey`);
- a VALIDATE CONSTRAINT in the migration that added the constraint moves to a new migration;
- `:json` columns become `:map`.

Moving statements is done only for `change/0` migrations (and `up/0` without `down/0`): in an
up/down pair the matching rollback would have to move too, which is left to the author and
reported. Only the migrations being checked are rewritten: editing one that already ran in
production changes nothing there.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from tools.ecto import elixir as ex
from tools.migrations.actions import CreateIndexAct, DropIndexAct, ValidateAct
from tools.migrations.lint import LintResult, MigrationFile
from tools.migrations.rules.base import Finding


@dataclass
class FixReport:
    changed: dict[Path, str] = field(default_factory=dict)  # path -> new text (new files too)
    original: dict[Path, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fixed: int = 0

    @property
    def created(self) -> list[Path]:
        return [p for p in self.changed if p not in self.original]

    def diff(self) -> str:
        out = []
        for path, text in self.changed.items():
            before = self.original.get(path, "")
            name = str(path)
            out.extend(difflib.unified_diff(before.splitlines(True), text.splitlines(True),
                                            "/dev/null" if path not in self.original else name, name))
        return "".join(out)

    def write(self) -> None:
        for path, text in self.changed.items():
            path.write_text(text, encoding="utf-8")


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def plan_fixes(result: LintResult) -> FixReport:
    report = FixReport()
    by_file: dict[str, list[Finding]] = {}
    for f in result.findings:
        if f.fixable:
            by_file.setdefault(f.file, []).append(f)
    used_versions: dict[Path, set[int]] = {}
    for mf in result.files:
        used_versions.setdefault(mf.path.parent, set()).update(
            [x.version for x in result.files if x.path.parent == mf.path.parent and x.version])
    for mf in result.checked:
        findings = by_file.get(mf.display)
        if not findings or mf.migration is None:
            continue
        siblings = used_versions.setdefault(mf.path.parent, set())
        siblings.update(_dir_versions(mf.path.parent))
        _fix_file(mf, findings, result, siblings, report)
    return report


def _dir_versions(directory: Path) -> set[int]:
    out = set()
    for p in directory.glob("*.exs"):
        m = re.match(r"^(\d+)_", p.name)
        if m:
            out.add(int(m.group(1)))
    return out


def _next_version(after: int, used: set[int]) -> int:
    v = after + 1
    while v in used:
        v += 1
    used.add(v)
    return v


class _Source:
    """The file's tree, with statements of the migration's main function by line."""

    def __init__(self, data: bytes):
        self.data = data
        self.tree = ex.parse(data)
        self.module = None
        self.functions: dict[str, list[Node]] = {}
        self.use_node: Node | None = None
        self.attr_nodes: dict[str, Node] = {}
        for node in ex.named_children(self.tree.root_node):
            call = ex.as_call(node)
            if call is not None and call.name == "defmodule" and call.do_block is not None:
                self.module = call
                break
        if self.module is None:
            return
        for node in ex.body(self.module.do_block):
            call = ex.as_call(node)
            if node.type == "unary_operator":
                operand = node.child_by_field_name("operand")
                inner = ex.as_call(operand) if operand is not None else None
                if inner is not None:
                    self.attr_nodes[inner.name] = node
                continue
            if call is None:
                continue
            if call.name == "use" and self.use_node is None:
                self.use_node = node
            if call.name == "def" and call.args:
                head = ex.as_call(call.args[0])
                name = head.name if head is not None else ex.text(call.args[0])
                self.functions.setdefault(name, ex.def_body(call))

    def statement_at(self, line: int) -> tuple[str, Node] | None:
        for name in ("change", "up"):
            for node in self.functions.get(name, []):
                if ex.line(node) <= line <= node.end_point[0] + 1:
                    return name, node
        return None

    def calls_in(self, node: Node, names: tuple[str, ...]) -> list[ex.Call]:
        return [c for c in ex.iter_calls(node) if c.name in names]


def _add_option(call: ex.Call, key: str, value: str) -> _Edit | None:
    """`, key: value` appended to a call's arguments; None when the options are not a plain
    trailing keyword list (a variable, a `[…]` literal) and so cannot be extended safely."""
    if not call.args:
        return None
    last = call.args[-1]
    if last.type == "keywords":
        for pair in ex.named_children(last):
            k = pair.child_by_field_name("key")
            if k is not None and ex.text(k).strip().rstrip(":").strip() == key:
                v = pair.child_by_field_name("value")
                return _Edit(v.start_byte, v.end_byte, value)
        return _Edit(last.end_byte, last.end_byte, f", {key}: {value}")
    if last.type in ("list", "identifier", "unary_operator") and len(call.args) >= 3:
        return None
    if call.name in ("index", "unique_index") and len(call.args) >= 3:
        return None
    if call.name in ("references", "constraint") and len(call.args) >= (2 if call.name == "references" else 3):
        return None
    return _Edit(last.end_byte, last.end_byte, f", {key}: {value}")


def _apply(data: bytes, edits: list[_Edit], base: int = 0) -> bytes:
    out = data
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[:e.start - base] + e.text.encode() + out[e.end - base:]
    return out


def _line_span(data: bytes, node: Node) -> tuple[int, int]:
    """Bytes of the whole lines a statement occupies, with its trailing newline."""
    start = data.rfind(b"\n", 0, node.start_byte) + 1
    end = data.find(b"\n", node.end_byte)
    end = len(data) if end == -1 else end + 1
    return start, end


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(r) - len(r.lstrip()) for r in lines if r.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(r[cut:] for r in lines)


def _new_migration(module: str, body: str, attrs: list[str]) -> str:
    inner = "\n".join(("    " + r) if r else "" for r in body.splitlines())
    head = "".join(f"  {a}\n" for a in attrs)
    return (f"defmodule {module} do\n  use Ecto.Migration\n\n{head}{chr(10) if head else ''}"
            f"  def change do\n{inner}\n  end\nend\n")


def _fix_file(mf: MigrationFile, findings: list[Finding], result: LintResult, used: set[int],
              report: FixReport) -> None:
    src = _Source(mf.source)
    if src.module is None:
        return
    data = mf.source
    edits: list[_Edit] = []
    moved: list[tuple[Node, list[_Edit]]] = []  # statements to move to the index migration
    validates: list[str] = []  # SQL for the follow-up VALIDATE migration
    moved_validate: list[Node] = []
    lock_setting = result.settings.migration_lock if result.settings else "table_lock"
    fns = src.functions
    movable = ("change" in fns or "up" in fns) and "down" not in fns
    kinds = {f.fixable for f in findings}
    fixed = 0

    # -- indexes --
    index_lines = {f.line for f in findings if f.fixable == "concurrent-index"}
    needs_conc = bool(index_lines) or kinds & {"attributes", "split-concurrent"}
    if needs_conc:
        index_stmts: list[tuple[Node, list[_Edit]]] = []
        others = any(not (isinstance(a, (CreateIndexAct, DropIndexAct)) and not a.raw) and not _quiet(a)
                     for a in mf.actions)
        for name in ("change", "up"):
            for node in fns.get(name, []):
                calls = src.calls_in(node, ("index", "unique_index"))
                stmt = ex.as_call(node)
                if stmt is None or stmt.name not in ("create", "create_if_not_exists", "drop",
                                                     "drop_if_exists") or not calls:
                    continue
                inner: list[_Edit] = []
                if ex.line(node) in index_lines or any(ex.line(c.node) in index_lines for c in calls):
                    edit = _add_option(calls[0], "concurrently", "true")
                    if edit is None:
                        report.notes.append(f"{mf.display}:{ex.line(node)}: index options are not a "
                                            "literal keyword list; add concurrently: true by hand")
                        continue
                    inner.append(edit)
                    fixed += 1
                elif "concurrently" not in ex.text(node):
                    if others:
                        continue  # an index on a table created here stays with its table
                index_stmts.append((node, inner))
        if others and index_stmts:
            if movable:
                moved = index_stmts
                fixed += 1
            else:
                report.notes.append(f"{mf.display}: concurrent index statements share an up/down "
                                    "migration with other work; move them (and their rollback) to "
                                    "a migration of their own by hand")
                for _node, inner in index_stmts:
                    edits.extend(inner)
        else:
            for _node, inner in index_stmts:
                edits.extend(inner)
            edits.extend(_attribute_edits(src, lock_setting))
            if "attributes" in kinds:
                fixed += 1

    # -- constraints --
    for f in findings:
        if f.fixable in ("fk-not-valid", "check-not-valid"):
            located = src.statement_at(f.line)
            if located is None:
                continue
            _, stmt = located
            names = ("references",) if f.fixable == "fk-not-valid" else ("constraint",)
            calls = [c for c in src.calls_in(stmt, names)
                     if f.fixable != "fk-not-valid" or ex.line(c.node) >= f.line]
            if not calls:
                continue
            edit = _add_option(calls[0], "validate", "false")
            if edit is None:
                report.notes.append(f"{f.file}:{f.line}: options are not a literal keyword list; "
                                    "add validate: false by hand")
                continue
            edits.append(edit)
            table = f.data.get("table") or "?"
            validates.append(f"ALTER TABLE {table} VALIDATE CONSTRAINT {f.data['constraint']}")
            fixed += 1
        elif f.fixable == "json-to-map":
            located = src.statement_at(f.line)
            if located is None:
                continue
            edit = _json_edit(data, located[1], f.line)
            if edit is not None:
                edits.append(edit)
                fixed += 1
    for act in mf.actions:
        if isinstance(act, ValidateAct) and any(
                f.rule == "validate-in-same-transaction" and f.line == act.line for f in findings):
            located = src.statement_at(act.line)
            if located is None or not movable:
                report.notes.append(f"{mf.display}:{act.line}: move the VALIDATE to a later migration by hand")
                continue
            moved_validate.append(located[1])
            validates.append(act.sql or "")
            fixed += 1

    if not fixed:
        return
    text = data
    removed = [n for n, _ in moved] + moved_validate
    all_edits = list(edits)
    for node in removed:
        start, end = _line_span(data, node)
        all_edits = [e for e in all_edits if not (start <= e.start < end)]
        all_edits.append(_Edit(start, end, ""))
    if moved:
        still_concurrent = any(isinstance(a, (CreateIndexAct, DropIndexAct)) and a.concurrently and a.raw
                               for a in mf.actions)
        if not still_concurrent:
            for name in ("disable_ddl_transaction", "disable_migration_lock"):
                node = src.attr_nodes.get(name)
                if node is not None:
                    all_edits.append(_Edit(*_line_span(data, node), ""))
    text = _apply(data, all_edits)
    text = re.sub(rb"\n{3,}", b"\n\n", text)
    text = re.sub(rb"\n[ \t]*\n([ \t]*end\b)", rb"\n\1", text)  # no blank line left before `end`
    report.original[mf.path] = data.decode("utf-8")
    report.changed[mf.path] = text.decode("utf-8")
    report.fixed += fixed
    base_version = mf.version or 0
    stem = mf.path.stem.split("_", 1)[1] if "_" in mf.path.stem else mf.path.stem
    if moved:
        body = "\n\n".join(_dedent(_apply(data[n.start_byte:n.end_byte], inner, n.start_byte).decode())
                           for n, inner in moved)
        attrs = ["@disable_ddl_transaction true"]
        if lock_setting not in ("pg_advisory_lock", "false"):
            attrs.append("@disable_migration_lock true")
        attrs += _attributes_used(src, body)
        v = _next_version(base_version, used)
        path = mf.path.parent / f"{v}_{stem}_concurrent_indexes.exs"
        report.changed[path] = _new_migration(mf.migration.module + "ConcurrentIndexes", body, attrs)
    if validates:
        body = "\n".join(f'execute "{sql.rstrip(";")}", ""' for sql in validates)
        v = _next_version(base_version, used)
        path = mf.path.parent / f"{v}_{stem}_validate_constraints.exs"
        report.changed[path] = _new_migration(mf.migration.module + "ValidateConstraints", body, [])


def _attributes_used(src: _Source, body: str) -> list[str]:
    """Definitions of the module attributes a moved statement reads (`@table :posts`): the new
    module needs them too."""
    out = []
    for name, node in src.attr_nodes.items():
        if name in ("disable_ddl_transaction", "disable_migration_lock"):
            continue
        if re.search(r"@" + re.escape(name) + r"\b", body):
            out.append(ex.text(node))
    return out


def _quiet(act) -> bool:
    from tools.migrations.actions import SettingAct, UnanalysedAct

    return isinstance(act, (SettingAct, UnanalysedAct))


def _attribute_edits(src: _Source, lock_setting: str) -> list[_Edit]:
    wanted = []
    if "disable_ddl_transaction" not in src.attr_nodes:
        wanted.append("@disable_ddl_transaction true")
    if lock_setting not in ("pg_advisory_lock", "false") and "disable_migration_lock" not in src.attr_nodes:
        wanted.append("@disable_migration_lock true")
    if not wanted or src.use_node is None:
        return []
    indent = " " * src.use_node.start_point[1]
    end = src.data.find(b"\n", src.use_node.end_byte)
    end = len(src.data) if end == -1 else end + 1
    text = "\n" + "".join(f"{indent}{w}\n" for w in wanted)
    return [_Edit(end, end, text)]


def _json_edit(data: bytes, stmt: Node, line: int) -> _Edit | None:
    for call in ex.iter_calls(stmt):
        if call.name in ("add", "add_if_not_exists", "modify") and ex.line(call.node) == line \
                and len(call.args) >= 2 and ex.text(call.args[1]) == ":json":
            return _Edit(call.args[1].start_byte, call.args[1].end_byte, ":map")
    return None
