"""Grep: search file contents with a regex, ripgrep when installed, Python's `re` otherwise.

The two backends only answer "which lines of which files match". Everything else (which files
are searched, context lines, numbering, ordering, paging, the size cap) is done here once, so the
output is the same whichever backend ran; only regex dialect corners can differ.
"""

from __future__ import annotations

import base64
import bisect
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable

from tools.base import Tool, ToolContext, ToolError
from tools.fs import bool_param, check_params, int_param, str_param
from tools.fs.glob import GlobMatcher, optional_path, path_sort_key, walk_files
from tools.fs.paths import confine, display

OUTPUT_MODES = ("files_with_matches", "content", "count")
DEFAULT_HEAD_LIMIT = 250
MAX_OUTPUT_CHARS = 20_000
MAX_LINE_CHARS = 500
RG_TIMEOUT_S = 120
# Keep each ripgrep command line well under the kernel's argument limits.
RG_CHUNK_CHARS = 100_000

# Our own table rather than ripgrep's, so `type` means the same with either backend (and
# covers HEEx templates, which ripgrep's `elixir` type does not).
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "elixir": ("*.ex", "*.exs", "*.eex", "*.heex", "*.leex", "*.sface", "*.livemd"),
    "erlang": ("*.erl", "*.hrl", "*.app.src", "rebar.config"),
    "sql": ("*.sql", "*.psql"),
    "js": ("*.js", "*.jsx", "*.mjs", "*.cjs", "*.vue"),
    "ts": ("*.ts", "*.tsx", "*.mts", "*.cts"),
    "py": ("*.py", "*.pyi"),
    "rust": ("*.rs",),
    "go": ("*.go",),
    "ruby": ("*.rb", "*.gemspec", "*.rake", "Gemfile", "Rakefile"),
    "java": ("*.java",),
    "kotlin": ("*.kt", "*.kts"),
    "c": ("*.c", "*.h"),
    "cpp": ("*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.hxx", "*.h"),
    "css": ("*.css", "*.scss", "*.sass", "*.less"),
    "html": ("*.html", "*.htm"),
    "json": ("*.json",),
    "yaml": ("*.yaml", "*.yml"),
    "toml": ("*.toml",),
    "xml": ("*.xml",),
    "md": ("*.md", "*.markdown"),
    "markdown": ("*.md", "*.markdown"),
    "txt": ("*.txt",),
    "sh": ("*.sh", "*.bash", "*.zsh"),
    "docker": ("Dockerfile", "*.dockerfile", "Dockerfile.*"),
    "make": ("Makefile", "makefile", "GNUmakefile", "*.mk"),
    "config": ("*.cfg", "*.conf", "*.config", "*.ini"),
}
FILE_TYPES["ex"] = FILE_TYPES["elixir"]
FILE_TYPES["python"] = FILE_TYPES["py"]

# Line-by-line search cannot match a newline; ripgrep refuses such a pattern, so both do.
_NEWLINE_IN_PATTERN = re.compile(r"\n|(?<!\\)(?:\\\\)*\\(?:n|x0[aA]|x\{0*[aA]\}|u000[aA])")


class Grep(Tool):
    name = "Grep"
    read_only = True
    input_schema = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "The regular expression to search for (ripgrep syntax: escape literal braces and "
                               "parentheses, e.g. `Repo\\.all\\(`).",
            },
            "path": {
                "type": "string",
                "description": "A file or folder to search, relative to the project root or absolute inside it. "
                               "Defaults to the whole project.",
            },
            "glob": {
                "type": "string",
                "description": 'Only search files whose path matches this glob, e.g. "*.ex", "*.{ex,exs}", '
                               '"lib/**/*.ex". Several globs may be separated by spaces; "!glob" excludes.',
            },
            "type": {
                "type": "string",
                "description": "Only search files of this type: " + ", ".join(sorted(FILE_TYPES)) + ".",
            },
            "output_mode": {
                "type": "string",
                "enum": list(OUTPUT_MODES),
                "description": '"files_with_matches" (default): matching file paths; "content": matching lines '
                               '(honours -n, -A, -B, -C); "count": matching lines per file.',
            },
            "-i": {"type": "boolean", "description": "Ignore case."},
            "-n": {"type": "boolean", "description": "Show line numbers in content mode (default true)."},
            "-A": {"type": "integer", "minimum": 0, "description": "Lines of context after each match (content mode)."},
            "-B": {"type": "integer", "minimum": 0,
                   "description": "Lines of context before each match (content mode)."},
            "-C": {"type": "integer", "minimum": 0,
                   "description": "Lines of context before and after each match (content mode)."},
            "multiline": {
                "type": "boolean",
                "description": "Let the pattern span lines (`.` then matches newlines too). Default false.",
            },
            "head_limit": {
                "type": "integer",
                "minimum": 0,
                "description": f"Show at most this many output lines or files (default {DEFAULT_HEAD_LIMIT}; "
                               "0 = no limit).",
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "Skip this many output lines or files first, to page through results (default 0).",
            },
        },
        "required": ["pattern"],
    }

    def __init__(self, backend: str | None = None):
        """backend: "rg", "python", or None to use ripgrep when it is on PATH."""
        if backend not in (None, "rg", "python"):
            raise ValueError(f"unknown Grep backend {backend!r}")
        self.backend = backend

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        tool = self.name
        params = check_params(params, tool)
        pattern = str_param(params, "pattern", tool, required=True, non_empty=True)
        raw_path = optional_path(params, tool, aliases=("file_path",))
        globs = str_param(params, "glob", tool)
        file_type = str_param(params, "type", tool)
        mode = str_param(params, "output_mode", tool, default="files_with_matches")
        if mode not in OUTPUT_MODES:
            raise ToolError(f"{tool}: `output_mode` must be one of {', '.join(OUTPUT_MODES)}, got {mode!r}")
        ignore_case = bool_param(params, "-i", tool)
        numbers = bool_param(params, "-n", tool, default=True)
        around = int_param(params, "-C", tool, minimum=0, aliases=("context",))
        after = int_param(params, "-A", tool, minimum=0, default=around or 0)
        before = int_param(params, "-B", tool, minimum=0, default=around or 0)
        multiline = bool_param(params, "multiline", tool)
        head_limit = int_param(params, "head_limit", tool, default=DEFAULT_HEAD_LIMIT, minimum=0)
        offset = int_param(params, "offset", tool, default=0, minimum=0)

        if not multiline and _NEWLINE_IN_PATTERN.search(pattern):
            raise ToolError("the pattern contains a newline, which line-by-line search never matches; "
                            "set multiline: true to search across lines")

        base = confine(ctx, raw_path) if raw_path else ctx.project_root
        if not base.exists():
            raise ToolError(f"path does not exist: {display(ctx, base)}")
        files = self._files(ctx, base, globs, file_type)

        rg = None
        if self.backend != "python":
            rg = shutil.which("rg")
            if rg is None and self.backend == "rg":
                raise ToolError("ripgrep (rg) is not installed")
        if rg:
            hits = _rg_search(rg, ctx.project_root, [rel for _, rel in files], pattern, ignore_case, multiline)
        else:
            hits = _python_search(files, pattern, ignore_case, multiline)

        texts: dict[str, list[str]] = {}
        results: list[tuple[str, list[int]]] = []
        for rel in sorted(hits, key=path_sort_key):
            lines = _text_lines(ctx.project_root / rel)
            if lines is None:
                continue  # binary (or vanished): never reported, whichever backend found it
            matched = sorted(n for n in hits[rel] if 1 <= n <= len(lines))
            if matched:
                results.append((rel, matched))
                texts[rel] = lines

        if mode == "files_with_matches":
            entries = [rel for rel, _ in results]
            return _page(entries, offset, head_limit, empty="No files found",
                         header=lambda total: f"Found {total} {'file' if total == 1 else 'files'}")
        if mode == "count":
            entries = [f"{rel}:{len(matched)}" for rel, matched in results]
            total = sum(len(matched) for _, matched in results)
            footer = (f"\n\nFound {total} matching {'line' if total == 1 else 'lines'} in "
                      f"{len(results)} {'file' if len(results) == 1 else 'files'}.")
            return _page(entries, offset, head_limit, empty="No matches found", footer=footer)
        entries = _content_lines(results, texts, before, after, numbers)
        return _page(entries, offset, head_limit, empty="No matches found", separators=bool(before or after))

    def _files(self, ctx: ToolContext, base: Path, globs: str | None,
               file_type: str | None) -> list[tuple[Path, str]]:
        if base.is_file():
            # A file named explicitly is searched whatever the filters say, as with ripgrep.
            return [(base, display(ctx, base))]
        include, exclude = _parse_globs(globs)
        type_matcher = None
        if file_type:
            if file_type not in FILE_TYPES:
                raise ToolError(f"unknown file type {file_type!r}; known types: {', '.join(sorted(FILE_TYPES))}")
            type_matcher = GlobMatcher("{" + ",".join(FILE_TYPES[file_type]) + "}")
        base_rel = display(ctx, base)
        files = []
        for path, rel in walk_files(ctx, base):
            if type_matcher and not type_matcher.match(rel.rsplit("/", 1)[-1]):
                continue
            if include and not any(g.match(rel, base_rel, folders=False) for g in include):
                continue
            if any(g.match(rel, base_rel, folders=True) for g in exclude):
                continue
            files.append((path, rel))
        return files


class _PathGlob:
    """A ripgrep-style --glob: without a slash it matches a name at any depth, with one it matches
    the path (relative to the project root or to the searched folder); a trailing slash means
    folders only. Exclusions also prune folders, as ripgrep does: `!test` skips everything in test/."""

    def __init__(self, pattern: str):
        self.dir_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        self.by_name = "/" not in pattern
        self.matcher = GlobMatcher(pattern.lstrip("/"))

    def match(self, rel: str, base_rel: str, *, folders: bool) -> bool:
        parts = rel.split("/")
        base_depth = 0 if base_rel == "." else base_rel.count("/") + 1
        lowest = base_depth + 1 if folders else len(parts)
        # The file first, then (for exclusions) each folder between it and the searched folder.
        for depth in range(len(parts), lowest - 1, -1):
            if depth == len(parts) and self.dir_only:
                continue
            if self.by_name:
                if self.matcher.match(parts[depth - 1]):
                    return True
                continue
            sub = "/".join(parts[:depth])
            local = sub[len(base_rel) + 1:] if base_depth else sub
            if self.matcher.match(sub) or self.matcher.match(local):
                return True
        return False


def _parse_globs(globs: str | None) -> tuple[list[_PathGlob], list[_PathGlob]]:
    include: list[_PathGlob] = []
    exclude: list[_PathGlob] = []
    for piece in _split_globs(globs or ""):
        if piece.startswith("!"):
            if piece[1:]:
                exclude.append(_PathGlob(piece[1:]))
        else:
            include.append(_PathGlob(piece))
    return include, exclude


def _split_globs(text: str) -> list[str]:
    # Spaces and commas separate globs, except the commas of a {a,b} group.
    pieces, current, depth = [], [], 0
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
        if (c.isspace() or (c == "," and depth == 0)):
            if current:
                pieces.append("".join(current))
            current = []
        else:
            current.append(c)
    if current:
        pieces.append("".join(current))
    return pieces


# --- backends: which lines match -------------------------------------------------------------

def _rg_search(rg: str, root: Path, rels: list[str], pattern: str, ignore_case: bool,
               multiline: bool) -> dict[str, set[int]]:
    base_args = [rg, "--json", "--no-config", "--no-messages", "--encoding", "none"]
    if ignore_case:
        base_args.append("-i")
    if multiline:
        base_args += ["-U", "--multiline-dotall"]
    base_args += ["-e", pattern, "--"]
    hits: dict[str, set[int]] = {}
    # With no files, still run once on empty input so a bad pattern is reported either way.
    for chunk in _chunks(rels) if rels else [["-"]]:
        try:
            proc = subprocess.run(base_args + chunk, cwd=root, input=b"", capture_output=True,
                                  timeout=RG_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ToolError(f"the search took longer than {RG_TIMEOUT_S} s; "
                            "narrow it with path, glob or type") from None
        out = proc.stdout.decode("utf-8", "replace")
        if proc.returncode == 2 and '"type":"summary"' not in out:
            message = proc.stderr.decode("utf-8", "replace").strip()
            raise ToolError(f"invalid regex {pattern!r}: {message}")
        for line in out.splitlines():
            if not line.startswith('{"type":"match"'):
                continue
            data = json.loads(line)["data"]
            rel = _rg_text(data["path"])
            text = _rg_text(data["lines"])
            span = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
            first = data["line_number"]
            hits.setdefault(rel, set()).update(range(first, first + span))
    return hits


def _rg_text(field: dict[str, str]) -> str:
    if "text" in field:
        return field["text"]
    return os.fsdecode(base64.b64decode(field["bytes"])) if field.get("bytes") else ""


def _chunks(rels: list[str]) -> Iterable[list[str]]:
    chunk: list[str] = []
    size = 0
    for rel in rels:
        if chunk and size + len(rel) + 1 > RG_CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(rel)
        size += len(rel) + 1
    if chunk:
        yield chunk


def _python_search(files: list[tuple[Path, str]], pattern: str, ignore_case: bool,
                   multiline: bool) -> dict[str, set[int]]:
    flags = re.IGNORECASE if ignore_case else 0
    if multiline:
        flags |= re.MULTILINE | re.DOTALL
    try:
        regex = re.compile(pattern, flags)
    except re.error as exc:
        raise ToolError(f"invalid regex {pattern!r}: {exc}") from None
    hits: dict[str, set[int]] = {}
    for path, rel in files:
        text = _decoded(path)
        if text is None:
            continue
        found: set[int] = set()
        if multiline:
            newlines = [m.start() for m in re.finditer("\n", text)]
            for m in regex.finditer(text):
                # A match that ends with a newline ends on that newline's line, as ripgrep counts.
                last = m.end() - 1 if m.end() > m.start() else m.start()
                first_line = bisect.bisect_left(newlines, m.start()) + 1
                last_line = bisect.bisect_left(newlines, last) + 1
                found.update(range(first_line, last_line + 1))
        else:
            for number, line in enumerate(_split_lines(text), start=1):
                if regex.search(line):
                    found.add(number)
        if found:
            hits[rel] = found
    return hits


# --- shared: file text, rendering, paging ----------------------------------------------------

def _decoded(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


def _split_lines(text: str) -> list[str]:
    """Lines as ripgrep sees them: split at "\\n" only, "\\r" kept, no phantom line after a final newline."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _text_lines(path: Path) -> list[str] | None:
    text = _decoded(path)
    return None if text is None else _split_lines(text)


def _show(line: str) -> str:
    line = line.removesuffix("\r")
    if len(line) > MAX_LINE_CHARS:
        return f"{line[:MAX_LINE_CHARS]}… [line cut: {len(line) - MAX_LINE_CHARS} more characters]"
    return line


def _content_lines(results: list[tuple[str, list[int]]], texts: dict[str, list[str]], before: int, after: int,
                   numbers: bool) -> list[str]:
    out: list[str] = []
    context = bool(before or after)
    for rel, matched in results:
        lines = texts[rel]
        shown: set[int] = set()
        for n in matched:
            shown.update(range(max(n - before, 1), min(n + after, len(lines)) + 1))
        hit = set(matched)
        previous = None
        for n in sorted(shown):
            if context and out and (previous is None or n != previous + 1):
                out.append("--")
            sep = ":" if n in hit else "-"
            text = _show(lines[n - 1])
            out.append(f"{rel}{sep}{n}{sep}{text}" if numbers else f"{rel}{sep}{text}")
            previous = n
    return out


def _page(entries: list[str], offset: int, head_limit: int, *, empty: str, header=None, footer: str = "",
          separators: bool = False) -> str:
    total = len(entries)
    if not total:
        return empty
    stop = min(offset + head_limit, total) if head_limit else total
    # Fit whole entries into the size cap, leaving room for the header, footer and note.
    budget = MAX_OUTPUT_CHARS - len(footer) - 300 - (len(header(total)) + 1 if header else 0)
    end, size = offset, 0
    while end < stop and (end == offset or size + len(entries[end]) + 1 <= budget):
        size += len(entries[end]) + 1
        end += 1
    cut_for_size = end < stop
    window = entries[offset:end]
    if separators:
        while window and window[0] == "--":
            window = window[1:]
        while window and window[-1] == "--":
            window = window[:-1]
    if not window:
        return f"No results past offset {offset} (there are {total})."
    body = "\n".join(window)
    if len(body) > budget:  # one enormous entry
        body = body[:budget]
    if header:
        body = f"{header(total)}\n{body}"
    note = ""
    if cut_for_size:
        note = (f"\n\n[Output cut at {MAX_OUTPUT_CHARS:,} characters after result {end} of {total}. Narrow the "
                f"search (path, glob, type or a more specific pattern) or continue with offset={end}.]")
    elif offset or end < total:
        note = f"\n\n(Showing results {offset + 1}-{end} of {total}."
        note += f" Use offset={end} for more.)" if end < total else ")"
    return body + footer + note
