"""Every agent tool, in the order a model sees them: Claude Code's file and shell tools first,
then the analysis tools. `ecto-optimizer tool NAME` and the MCP server look tools up here."""

from __future__ import annotations

from tools.base import Tool, ToolError


def all_tools() -> list[Tool]:
    from tools.bash import Bash
    from tools.explain.tool import Explain
    from tools.fs.edit import Edit
    from tools.fs.glob import Glob
    from tools.fs.grep import Grep
    from tools.fs.read import Read
    from tools.fs.write import Write
    from tools.caching.tool import CachingAdvice
    from tools.health.tool import DbHealth, DescribeTable
    from tools.indexes.tool import AdviseIndexes, HypotheticalIndex
    from tools.logs.tool import AnalyzeLogs, QueryStats
    from tools.matviews.tool import MaterializedViewAdvice
    from tools.migrations.tool import CheckMigrations
    from tools.partitioning.tool import PartitioningAdvice
    from tools.report import SubmitReport
    from tools.rewrites.tool import SuggestRewrites

    return [Read(), Edit(), Write(), Grep(), Glob(), Bash(), Explain(), AnalyzeLogs(), QueryStats(), AdviseIndexes(),
            HypotheticalIndex(), CheckMigrations(),
            DbHealth(), DescribeTable(), SuggestRewrites(), PartitioningAdvice(), MaterializedViewAdvice(),
            CachingAdvice(), SubmitReport()]


def get_tool(name: str) -> Tool:
    for tool in all_tools():
        if tool.name == name:
            return tool
    names = ", ".join(t.name for t in all_tools())
    raise ToolError(f"no tool named {name!r} (tools: {names})")
