"""Keep every file tool inside the project root.

A model names paths relative to the root or absolute; either way the path must end up inside
the root once `..` and symlinks are resolved, because the real path is what gets read or written.
"""

from __future__ import annotations

import os
from pathlib import Path

from tools.base import ToolContext, ToolError


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def confine(ctx: ToolContext, raw: str) -> Path:
    """The real (symlink-free) absolute path for `raw`, or a ToolError saying why it is refused."""
    root = ctx.project_root
    if "\0" in raw:
        raise ToolError("path contains a NUL byte")
    if not raw.strip():
        raise ToolError("path is empty")
    given = Path(os.path.expanduser(raw))
    joined = given if given.is_absolute() else root / given
    real = Path(os.path.realpath(joined))
    if _inside(real, root):
        return real
    lexical = Path(os.path.normpath(joined))
    if _inside(lexical, root):
        raise ToolError(f"path is outside the project root: {raw} is a symlink (or goes through one) to {real}")
    if given.is_absolute():
        raise ToolError(f"path is outside the project root: {raw}")
    raise ToolError(f"path is outside the project root: {raw} leaves {root} through '..'")


def display(ctx: ToolContext, path: Path) -> str:
    """How tool output names a path: relative to the project root, with forward slashes."""
    try:
        rel = path.relative_to(ctx.project_root)
    except ValueError:
        return str(path)
    return rel.as_posix() if rel.parts else "."
