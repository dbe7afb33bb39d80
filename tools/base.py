"""What every agent tool is: a name, a description, an input schema, and `run`.

The same object serves the agent loop (as an Anthropic tool definition), `ecto-optimizer tool
NAME --input JSON`, and later the MCP server. Descriptions live in prompts/tools/<name>.md so
the words a model reads are reviewed like any other prompt.

A tool signals a failure the model should read by raising ToolError (or InputError); the loop
turns either into an `is_error` tool result, the CLI into one line and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from tools.errors import InputError


class ToolError(InputError):
    """A tool call that cannot be carried out; the message is what the model (or user) reads."""


# approve(tool_name, summary) -> True to go ahead. `chat` asks the user; `run` decides by flags.
Approver = Callable[[str, str], bool]


@dataclass
class ToolContext:
    """What a tool call may touch, fixed for the whole run."""

    project_root: Path
    database_url: str | None = None
    allow_edits: bool = False
    allow_bash: bool = False
    allow_writes_to_database: bool = False
    approve: Approver | None = None  # consulted for edits and commands when not allowed up front
    # Read-before-edit bookkeeping: resolved path -> (mtime_ns, size) when it was last Read.
    read_files: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # What the run changed, recorded by the tools themselves so a report cannot misstate it:
    # (project-relative path, unified diff, created) in the order the changes were made.
    changes: list[tuple[str, str, bool]] = field(default_factory=list)
    # The structured report the model submitted with submit_report, if it did.
    report: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.project_root = Path(self.project_root).resolve()


class Tool:
    name: ClassVar[str]
    input_schema: ClassVar[dict[str, Any]]
    read_only: ClassVar[bool] = True

    @property
    def description(self) -> str:
        from prompts import tool_description

        return tool_description(self.name)

    def definition(self) -> dict[str, Any]:
        """The tool as the Messages API takes it."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        raise NotImplementedError
