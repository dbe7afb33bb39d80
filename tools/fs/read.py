"""Read: a text file as numbered lines, the way Claude Code shows it (`<line number>\\t<line>`)."""

from __future__ import annotations

import os
from typing import Any

from tools.base import Tool, ToolContext, ToolError
from tools.fs import check_params, int_param, record_read, str_param
from tools.fs.paths import confine, display

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
# 2000 lines of 2000 characters would swamp a model's context; stop well before and say where.
MAX_OUTPUT_CHARS = 100_000
BINARY_SNIFF_BYTES = 8192


class Read(Tool):
    name = "Read"
    read_only = True
    input_schema = {
        "type": "object",
        "properties": {
            "file_path": {
                "type": "string",
                "description": "The file to read: relative to the project root, or an absolute path inside it.",
            },
            "offset": {
                "type": "integer",
                "minimum": 0,
                "description": "The line number to start reading from (1 is the first line). "
                               "Only needed when a file is too long to read at once.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"How many lines to read (default {DEFAULT_LIMIT}).",
            },
        },
        "required": ["file_path"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        params = check_params(params, self.name)
        raw = str_param(params, "file_path", self.name, required=True, aliases=("path",), non_empty=True)
        offset = int_param(params, "offset", self.name, default=0, minimum=0)
        limit = int_param(params, "limit", self.name, default=DEFAULT_LIMIT, minimum=1)
        path = confine(ctx, raw)
        shown = display(ctx, path)
        if path.is_dir():
            raise ToolError(f"{shown} is a directory, not a file; use Glob (or Bash `ls`) to list it")
        if not path.exists():
            raise ToolError(f"file does not exist: {shown}")
        if not path.is_file():
            # A FIFO or device would block or never end.
            raise ToolError(f"{shown} is not a regular file")

        # Offset is the first line to show; 0 and 1 both mean the start, as in Claude Code.
        first = max(offset, 1)
        end = first + limit  # exclusive
        shown_lines: list[str] = []
        chars = 0
        total = 0
        cut_at: int | None = None
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if b"\0" in fh.read(BINARY_SNIFF_BYTES):
                    raise ToolError(f"{shown} is a binary file; Read shows text files only")
                fh.seek(0)
                for number, raw_line in enumerate(fh, start=1):
                    total = number
                    if number < first or number >= end or cut_at is not None:
                        continue
                    line = raw_line.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
                    if len(line) > MAX_LINE_CHARS:
                        line = f"{line[:MAX_LINE_CHARS]}… [line cut: {len(line) - MAX_LINE_CHARS} more characters]"
                    entry = f"{number}\t{line}"
                    if shown_lines and chars + len(entry) + 1 > MAX_OUTPUT_CHARS:
                        cut_at = number
                        continue
                    shown_lines.append(entry)
                    chars += len(entry) + 1
        except OSError as exc:
            raise ToolError(f"cannot read {shown}: {exc.strerror}") from None
        record_read(ctx, path, (st.st_mtime_ns, st.st_size))

        if total == 0:
            return f"({shown} exists but is empty.)"
        if not shown_lines:
            return f"({shown} has {total} lines; offset {offset} is past the end.)"
        last = first + len(shown_lines) - 1
        text = "\n".join(shown_lines)
        if last < total:
            why = " (output size limit)" if cut_at is not None else ""
            text += f"\n\n(Showing lines {first}-{last} of {total}{why}. Continue with offset={last + 1}.)"
        return text
