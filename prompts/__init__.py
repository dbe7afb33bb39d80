"""Prompt texts as Markdown files shipped in the package: the system prompt and each tool's description."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of prompts/<name>.md (name may contain a folder: "tools/Read")."""
    path = resources.files(__package__).joinpath(f"{name}.md")
    if not path.is_file():
        raise FileNotFoundError(f"no prompt named {name!r}")
    return path.read_text(encoding="utf-8").strip()


def tool_description(tool_name: str) -> str:
    return load(f"tools/{tool_name}")
