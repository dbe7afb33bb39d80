"""Write: create a file, or replace one the model has Read."""

from __future__ import annotations

from typing import Any

from tools.base import Tool, ToolContext, ToolError
from tools.fs import (check_fresh, check_params, read_text, record_read, require_permission, str_param,
                      unified_diff, write_text)
from tools.fs.paths import confine, display

# What the approver sees of a new file; enough to judge it, not a whole generated file.
PREVIEW_CHARS = 4000


def _line_count(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


class Write(Tool):
    name = "Write"
    read_only = False
    input_schema = {
        "type": "object",
        "properties": {
            "file_path": {
                "type": "string",
                "description": "The file to write: relative to the project root, or an absolute path inside it. "
                               "Missing parent folders are created.",
            },
            "content": {
                "type": "string",
                "description": "The complete new content of the file.",
            },
        },
        "required": ["file_path", "content"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        params = check_params(params, self.name)
        raw = str_param(params, "file_path", self.name, required=True, aliases=("path",), non_empty=True)
        content = str_param(params, "content", self.name, required=True)
        path = confine(ctx, raw)
        shown = display(ctx, path)
        if path.is_dir():
            raise ToolError(f"{shown} is a directory, not a file")

        exists = path.exists()
        diff = ""
        if exists:
            if not path.is_file():
                raise ToolError(f"{shown} is not a regular file")
            check_fresh(ctx, path)
            try:
                old = read_text(path, shown)
            except ToolError:
                old = None  # binary or not UTF-8: it can be replaced, just not diffed
            if old == content:
                return f"No changes: {shown} already has exactly this content."
            diff = unified_diff(old, content, shown) if old is not None else ""
            summary = f"Overwrite {shown}\n{diff or '(previous content is not text)'}"
        else:
            preview = content if len(content) <= PREVIEW_CHARS else content[:PREVIEW_CHARS] + "\n…"
            summary = f"Create {shown} ({_line_count(content)} lines)\n{preview}"
        require_permission(ctx, self.name, summary, allowed=ctx.allow_edits, what="edits", flag="--allow-edits")

        if exists:
            # Approval can take as long as a person reading the diff; the file may have moved on meanwhile.
            check_fresh(ctx, path)
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ToolError(f"cannot create the folder for {shown}: {exc.strerror}") from None
        write_text(path, content, shown)
        record_read(ctx, path)
        ctx.changes.append((shown, diff if exists else unified_diff("", content, shown), not exists))
        if exists:
            return f"Updated {shown} ({_line_count(content)} lines).\n{diff}".rstrip("\n")
        return f"Created {shown} ({_line_count(content)} lines)."
