"""Glob: find files by name pattern, newest first. Also the file walk Grep searches with.

Both tools list files the same way, so what Glob shows is what Grep searches: no symlinks (they
could lead out of the project or loop), no build, dependency or VCS folders, nothing a
.gitignore excludes. A path named explicitly is always walked, so `deps/ecto` can be searched
on purpose even though `deps` is skipped on the way down from the root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tools.base import Tool, ToolContext, ToolError
from tools.fs import check_params, str_param
from tools.fs.paths import confine, display

# Folders that are never source a model wants to search: VCS data, build output, fetched deps.
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".jj", "_build", "deps", "node_modules", ".elixir_ls", ".venv", "__pycache__",
})
MAX_RESULTS = 100
# A pattern like {a,b}{c,d}{e,f}... multiplies; past this it is surely a mistake.
MAX_BRACE_EXPANSIONS = 256
# Models sometimes fill an optional path with these instead of leaving it out.
EMPTY_PATHS = ("", ".", "undefined", "null", "None")


# --- glob patterns ---------------------------------------------------------------------------

def expand_braces(pattern: str) -> list[str]:
    """`*.{ex,exs}` -> [`*.ex`, `*.exs`]; nested and repeated groups too."""
    depth = 0
    start = None
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                alternatives = _split_top_level(pattern[start + 1:i])
                head, tail = pattern[:start], pattern[i + 1:]
                out: list[str] = []
                for alt in alternatives:
                    out.extend(expand_braces(head + alt + tail))
                    if len(out) > MAX_BRACE_EXPANSIONS:
                        raise ToolError(f"pattern expands to too many alternatives: {pattern}")
                return out
        i += 1
    return [pattern]


def _split_top_level(body: str) -> list[str]:
    parts, depth, current, i = [], 0, [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            current.append(body[i:i + 2])
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def glob_to_regex(pattern: str) -> str:
    """A regex for one brace-free glob over `/`-separated paths: `*` and `?` stay inside one
    segment, a whole `**` segment spans any number of folders (including none)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            j = i + 2
            whole_segment = (i == 0 or pattern[i - 1] == "/") and (j == n or pattern[j] == "/")
            if whole_segment and j == n:
                out.append(".*")
                i = j
            elif whole_segment:
                out.append("(?:.*/)?")
                i = j + 1
            else:
                out.append("[^/]*")
                i = j
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("[", "\\[")
                out.append(f"[^/{body}]" if negate else f"[{body}]")
                i = j
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class GlobMatcher:
    """Matches `/`-separated relative paths against one glob (braces allowed)."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._regexes = [re.compile(glob_to_regex(p), re.S) for p in expand_braces(pattern)]

    def match(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self._regexes)


# --- .gitignore ------------------------------------------------------------------------------

@dataclass(frozen=True)
class IgnoreRule:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def parse_gitignore(text: str) -> list[IgnoreRule]:
    """The rules of one .gitignore, each matching paths relative to that file's folder."""
    rules = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        while line.endswith(" ") and not line.endswith("\\ "):
            line = line[:-1]
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        elif line.startswith(("\\!", "\\#")):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        # A slash anywhere but the end ties the pattern to this folder; otherwise it matches a
        # name at any depth below it.
        anchored = "/" in line
        body = glob_to_regex(line.lstrip("/"))
        if not anchored:
            body = "(?:.*/)?" + body
        rules.append(IgnoreRule(re.compile(body, re.S), negate, dir_only))
    return rules


IgnoreStack = tuple[tuple[str, tuple[IgnoreRule, ...]], ...]


def _load_ignore(stack: IgnoreStack, folder: Path, rel: str) -> IgnoreStack:
    try:
        text = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return stack
    rules = tuple(parse_gitignore(text))
    return stack + ((rel, rules),) if rules else stack


def _ignored(stack: IgnoreStack, rel: str, is_dir: bool) -> bool:
    # Later rules win, and deeper .gitignore files come later, as in git.
    verdict = False
    for base, rules in stack:
        if base:
            if not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1:]
        else:
            sub = rel
        for rule in rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(sub):
                verdict = not rule.negate
    return verdict


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else ""


def walk_files(ctx: ToolContext, start: Path) -> Iterator[tuple[Path, str]]:
    """(path, path relative to the project root) for every file under `start` worth searching."""
    root = ctx.project_root
    stack: IgnoreStack = ()
    # .gitignore files between the root and `start` apply below `start` too.
    for folder in reversed(start.parents):
        if folder == root or folder.is_relative_to(root):
            stack = _load_ignore(stack, folder, _rel(root, folder))
    todo: list[tuple[Path, IgnoreStack]] = [(start, stack)]
    while todo:
        folder, stack = todo.pop()
        folder_rel = _rel(root, folder)
        stack = _load_ignore(stack, folder, folder_rel)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                rel = f"{folder_rel}/{entry.name}" if folder_rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if entry.name in SKIPPED_DIRS or _ignored(stack, rel, True):
                        continue
                    todo.append((Path(entry.path), stack))
                elif entry.is_file(follow_symlinks=False):
                    if not _ignored(stack, rel, False):
                        yield Path(entry.path), rel
            except OSError:
                continue


def optional_path(params: dict[str, Any], tool: str, aliases: tuple[str, ...] = ()) -> str | None:
    raw = str_param(params, "path", tool, aliases=aliases)
    if raw is None or raw.strip() in EMPTY_PATHS:
        return None
    return raw


def path_sort_key(rel: str) -> tuple[str, ...]:
    # Folder by folder, so `a/b` sorts with `a`'s contents rather than after `a-c`.
    return tuple(rel.split("/"))


# --- the tool --------------------------------------------------------------------------------

_GLOB_CHARS = re.compile(r"[*?\[{\\]")


class Glob(Tool):
    name = "Glob"
    read_only = True
    input_schema = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": 'The glob to match file paths against, relative to `path`: "**/*.ex", '
                               '"lib/**/*_live.ex", "priv/repo/migrations/*.exs", "**/*.{ex,exs}".',
            },
            "path": {
                "type": "string",
                "description": "The folder to search in, relative to the project root or absolute inside it. "
                               "Leave it out to search the whole project.",
            },
        },
        "required": ["pattern"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        params = check_params(params, self.name)
        pattern = str_param(params, "pattern", self.name, required=True, non_empty=True).strip()
        raw_path = optional_path(params, self.name)
        base = confine(ctx, raw_path) if raw_path else ctx.project_root
        if not base.exists():
            raise ToolError(f"folder does not exist: {display(ctx, base)}")
        if not base.is_dir():
            raise ToolError(f"{display(ctx, base)} is a file, not a folder; give a folder as `path`")

        if os.path.isabs(pattern):
            prefix = str(base).rstrip("/") + "/"
            if not pattern.startswith(prefix):
                raise ToolError(f"pattern is an absolute path outside the folder searched ({display(ctx, base)}); "
                                "give it relative to `path`")
            pattern = pattern[len(prefix):]
        pattern = pattern.removeprefix("./")
        matcher = GlobMatcher(pattern)

        # Start the walk at the pattern's literal folders, so `deps/ecto/**/*.ex` looks inside
        # deps/ecto on purpose instead of skipping `deps` from the root.
        literal = []
        for part in pattern.split("/")[:-1]:
            if _GLOB_CHARS.search(part):
                break
            literal.append(part)
        start = confine(ctx, str(base.joinpath(*literal))) if literal else base
        if not start.is_dir():
            return "No files found"

        found = []
        for path, rel in walk_files(ctx, start):
            if matcher.match(os.path.relpath(path, base).replace(os.sep, "/")):
                try:
                    found.append((path.stat().st_mtime_ns, rel))
                except OSError:
                    continue
        if not found:
            return "No files found"
        found.sort(key=lambda item: (-item[0], path_sort_key(item[1])))
        lines = [rel for _, rel in found[:MAX_RESULTS]]
        if len(found) > MAX_RESULTS:
            lines.append(f"(Showing the {MAX_RESULTS} most recently modified of {len(found)} matches. "
                         "Use a narrower pattern or path to see the others.)")
        return "\n".join(lines)
