"""AGENT.md is the card a coding assistant loads: its front matter must parse and name real tools."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def front_matter() -> dict[str, str]:
    text = (REPO / "AGENT.md").read_text()
    assert text.startswith("---\n")
    head = text.split("---\n", 2)[1]
    fields = {}
    for line in head.strip().splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def test_card_has_the_fields_claude_code_needs():
    fields = front_matter()
    assert fields["name"] == "ecto-optimizer"
    assert "proactively" in fields["description"].lower()
    assert fields["model"] in ("inherit", "sonnet", "opus", "haiku")


def test_card_names_only_tools_that_exist():
    import asyncio
    import os
    import sys

    from mcp import Client, StdioServerParameters

    tools = [t.strip() for t in front_matter()["tools"].split(",")]
    mcp_tools = {t.removeprefix("mcp__ecto-optimizer__") for t in tools if t.startswith("mcp__")}

    async def listed():
        params = StdioServerParameters(command=sys.executable, args=["-m", "agent", "mcp", "--project", str(REPO)],
                                       env=dict(os.environ))
        async with Client(params) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert mcp_tools <= asyncio.run(listed())
    assert set(tools) - {f"mcp__ecto-optimizer__{t}" for t in mcp_tools} <= {"Bash", "Read", "Grep", "Glob", "Edit",
                                                                            "Write"}
