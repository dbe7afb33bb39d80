"""Claude Code's file tools (Read, Edit, Write, Grep, Glob), confined to the project root.

This module holds what several of them share: reading and checking parameters the way a model
sends them, asking permission before a change, the read-before-write bookkeeping, and diffs.
Bash uses the parameter and permission helpers too, so its refusals read like these.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Iterable

from tools.base import ToolContext, ToolError

NOT_READ = "File has not been read yet. Read it first before writing to it."
MODIFIED_SINCE_READ = ("File has been modified since read, either by the user or by a linter. "
                       "Read it again before attempting to write it.")

_MISSING = object()


def check_params(params: Any, tool: str) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise ToolError(f"{tool} takes a JSON object of parameters, got {type(params).__name__}")
    return params


def _lookup(params: dict[str, Any], name: str, aliases: Iterable[str]) -> tuple[str, Any]:
    for key in (name, *aliases):
        if key in params and params[key] is not None:
            return key, params[key]
    return name, _MISSING


def str_param(params: dict[str, Any], name: str, tool: str, *, required: bool = False,
              aliases: Iterable[str] = (), default: str | None = None, non_empty: bool = False) -> str | None:
    key, value = _lookup(params, name, aliases)
    if value is _MISSING:
        if required:
            raise ToolError(f"{tool} needs `{name}`")
        return default
    if not isinstance(value, str):
        raise ToolError(f"{tool}: `{key}` must be a string, got {type(value).__name__}")
    if non_empty and not value.strip():
        raise ToolError(f"{tool}: `{key}` must not be empty")
    return value


def int_param(params: dict[str, Any], name: str, tool: str, *, default: int | None = None,
              minimum: int | None = None, maximum: int | None = None, aliases: Iterable[str] = ()) -> int | None:
    key, value = _lookup(params, name, aliases)
    if value is _MISSING:
        return default
    # Models sometimes send numbers as strings or as 10.0; both mean what they say.
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None:
        raise ToolError(f"{tool}: `{key}` must be an integer, got {value!r}")
    if minimum is not None and number < minimum:
        raise ToolError(f"{tool}: `{key}` must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ToolError(f"{tool}: `{key}` must be at most {maximum}, got {number}")
    return number


def bool_param(params: dict[str, Any], name: str, tool: str, *, default: bool = False,
               aliases: Iterable[str] = ()) -> bool:
    key, value = _lookup(params, name, aliases)
    if value is _MISSING:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ToolError(f"{tool}: `{key}` must be true or false, got {value!r}")


def require_permission(ctx: ToolContext, tool: str, summary: str, *, allowed: bool, what: str, flag: str) -> None:
    """Go ahead when the run allows it up front, or when the approver says yes; refuse otherwise.

    `what` names the capability in the refusal ("edits", "commands") so the model can tell the
    user which flag would let it through instead of retrying.
    """
    if allowed:
        return
    if ctx.approve is not None:
        if ctx.approve(tool, summary):
            return
        raise ToolError(f"{what} are not allowed in this run: the user declined this {tool}. "
                        f"Do not retry it; ask the user, or they can run with {flag} to allow {what}.")
    raise ToolError(f"{what} are not allowed in this run ({tool} refused). "
                    f"Run with {flag} to allow {what}.")


def file_stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


def record_read(ctx: ToolContext, path: Path, stamp: tuple[int, int] | None = None) -> None:
    ctx.read_files[path] = stamp if stamp is not None else file_stamp(path)


def check_fresh(ctx: ToolContext, path: Path) -> None:
    """Refuse to change a file the model has not seen, or has seen in an older state."""
    seen = ctx.read_files.get(path)
    if seen is None:
        raise ToolError(NOT_READ)
    try:
        current = file_stamp(path)
    except OSError:
        current = None  # deleted or replaced meanwhile: as stale as a changed file
    if current != seen:
        raise ToolError(MODIFIED_SINCE_READ)


def read_text(path: Path, display: str) -> str:
    """A text file's content exactly as stored (line endings kept), for Edit and Write."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ToolError(f"cannot read {display}: {exc.strerror}") from None
    if b"\0" in data:
        raise ToolError(f"{display} is a binary file; it cannot be edited as text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{display} is not UTF-8 text; it cannot be edited safely") from None


def write_text(path: Path, content: str, display: str) -> None:
    # Written in place rather than via rename so the file keeps its mode, owner and inode.
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
    except OSError as exc:
        raise ToolError(f"cannot write {display}: {exc.strerror}") from None


def unified_diff(old: str, new: str, display: str) -> str:
    def lines(text: str) -> list[str]:
        # Split on "\n" only: str.splitlines also breaks at form feeds and other separators that
        # are not line ends in a source file.
        parts = text.split("\n")
        out = [p + "\n" for p in parts[:-1]]
        if parts[-1]:
            # difflib assumes every line ends with a newline; mark the last one as git does.
            out.append(parts[-1] + "\n\\ No newline at end of file\n")
        return out

    return "".join(difflib.unified_diff(lines(old), lines(new), fromfile=f"a/{display}", tofile=f"b/{display}"))
