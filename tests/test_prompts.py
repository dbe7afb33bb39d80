"""The system prompt ships in the package and renders with the session's tools."""

from __future__ import annotations

from importlib import resources

import pytest

import prompts
from agent.loop import render_system, system_prompt
from tools.base import Tool


class Probe(Tool):
    name = "Probe"
    input_schema = {"type": "object", "properties": {}}

    @property
    def description(self) -> str:
        return "Look at one thing closely.\n\nLonger usage notes the list leaves out."

    def run(self, params, ctx):
        return ""


def test_system_prompt_is_package_data():
    assert resources.files("prompts").joinpath("system.md").is_file()
    text = prompts.load("system")
    assert text.startswith("# Who you are")
    assert text.count("{tools}") == 1


@pytest.mark.parametrize("needle", [
    "pg_stat_statements", "explain", "rolled back", "N+1", "keyset", "Repo.exists?", "select:",
    "concurrently: true", "@disable_ddl_transaction true", "@disable_migration_lock true", "validate: false",
    "VALIDATE CONSTRAINT", "read-only", "Findings", "Measured effect", "After deploying",
    "Read", "Edit", "Write", "Grep", "Glob", "Bash",
])
def test_system_prompt_covers_the_workflow(needle):
    assert needle in prompts.load("system")


def test_system_prompt_renders_the_tool_list():
    rendered = system_prompt([Probe()])
    assert "- **Probe**: Look at one thing closely." in rendered
    assert "Longer usage notes" not in rendered
    assert "{tools}" not in rendered
    # Elixir and SQL in the prompt survive rendering untouched
    assert "create index(:posts, [:author_id, :published_at], concurrently: true)" in rendered


def test_render_with_no_tools_says_so():
    assert "(no tools in this session)" in render_system("Tools:\n{tools}", [])


def test_system_prompt_renders_with_the_registry_when_its_tools_exist():
    try:
        from tools.registry import all_tools

        tools = all_tools()
    except ImportError as exc:  # the registry's tools are written in parallel; skip until they land
        pytest.skip(f"registry not complete yet: {exc}")
    try:
        rendered = system_prompt(tools)
    except FileNotFoundError as exc:
        pytest.skip(f"a registry tool has no description yet: {exc}")
    for tool in tools:
        assert f"- **{tool.name}**:" in rendered
