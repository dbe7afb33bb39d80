"""Edit: replace an exact piece of a file the model has Read, with Claude Code's error strings.

Those strings are part of the contract: models trained on Claude Code know how to recover from
each of them (read again, add context, set replace_all), so they are reproduced word for word.
"""

from __future__ import annotations

from typing import Any

from tools.base import Tool, ToolContext, ToolError
from tools.fs import (bool_param, check_fresh, check_params, read_text, record_read, require_permission,
                      str_param, unified_diff, write_text)
from tools.fs.paths import confine, display

NOT_FOUND = "String to replace not found in file."
NO_CHANGES = "No changes to make: old_string and new_string are exactly the same."


def too_many_matches(count: int) -> str:
    return (f"Found {count} matches of the string to replace, but replace_all is false. To replace all "
            "occurrences, set replace_all to true. To replace only one occurrence, please provide more context "
            "to uniquely identify the instance.")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


class Edit(Tool):
    name = "Edit"
    read_only = False
    input_schema = {
        "type": "object",
        "properties": {
            "file_path": {
                "type": "string",
                "description": "The file to change: relative to the project root, or an absolute path inside it.",
            },
            "old_string": {
                "type": "string",
                "description": "The exact text to replace, indentation included and without Read's line-number "
                               "prefixes. It must occur exactly once unless replace_all is true.",
            },
            "new_string": {
                "type": "string",
                "description": "The text to put in its place (must differ from old_string).",
            },
            "replace_all": {
                "type": "boolean",
                "default": False,
                "description": "Replace every occurrence of old_string instead of exactly one (default false).",
            },
        },
        "required": ["file_path", "old_string", "new_string"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        params = check_params(params, self.name)
        raw = str_param(params, "file_path", self.name, required=True, aliases=("path",), non_empty=True)
        old = str_param(params, "old_string", self.name, required=True, aliases=("old_str",))
        new = str_param(params, "new_string", self.name, required=True, aliases=("new_str",))
        replace_all = bool_param(params, "replace_all", self.name)
        if old == new:
            raise ToolError(NO_CHANGES)
        path = confine(ctx, raw)
        shown = display(ctx, path)
        if path.is_dir():
            raise ToolError(f"{shown} is a directory, not a file")

        if not path.exists():
            if old:
                raise ToolError(f"file does not exist: {shown}")
            # An empty old_string on a missing file creates it, as in Claude Code.
            diff = unified_diff("", new, shown)
            require_permission(ctx, self.name, f"Create {shown}\n{diff}", allowed=ctx.allow_edits,
                               what="edits", flag="--allow-edits")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ToolError(f"cannot create the folder for {shown}: {exc.strerror}") from None
            write_text(path, new, shown)
            record_read(ctx, path)
            ctx.changes.append((shown, diff, True))
            return f"Created {shown}.\n{diff}"
        if not path.is_file():
            raise ToolError(f"{shown} is not a regular file")

        check_fresh(ctx, path)
        content = read_text(path, shown)
        if not old:
            if content:
                raise ToolError(f"old_string is empty but {shown} already has content; give the exact text to "
                                "replace, or use Write to replace the whole file")
            updated, count = new, 1
        else:
            count = content.count(old)
            if count == 0 and "\r\n" in content and "\n" in old:
                # Read shows lines without their "\r", so a CRLF file gets quoted with bare "\n".
                old, new = _crlf(old), _crlf(new)
                count = content.count(old)
            if count == 0:
                raise ToolError(NOT_FOUND)
            if count > 1 and not replace_all:
                raise ToolError(too_many_matches(count))
            updated = content.replace(old, new) if replace_all else content.replace(old, new, 1)
        done = count if replace_all else 1

        diff = unified_diff(content, updated, shown)
        noun = "replacement" if done == 1 else "replacements"
        require_permission(ctx, self.name, f"Edit {shown} ({done} {noun})\n{diff}", allowed=ctx.allow_edits,
                           what="edits", flag="--allow-edits")
        # Approval can take as long as a person reading the diff; the file may have moved on meanwhile.
        check_fresh(ctx, path)
        write_text(path, updated, shown)
        record_read(ctx, path)
        ctx.changes.append((shown, diff, False))
        return f"Edited {shown} ({done} {noun}).\n{diff}"
