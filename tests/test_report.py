import json
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.fs.edit import Edit
from tools.fs.read import Read
from tools.fs.write import Write
from tools.report import SubmitReport, assemble, schema

REPO = Path(__file__).resolve().parent.parent


def test_published_schema_is_current():
    published = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    assert published == schema(), "run `ecto-optimizer report-schema > schemas/report.schema.json`"


def test_changes_come_from_the_tools_not_the_model(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shop.ex").write_text("defmodule Shop do\n  def a, do: 1\nend\n")
    ctx = ToolContext(project_root=tmp_path, allow_edits=True)
    Write().run({"file_path": "priv/repo/migrations/20240101000000_add_index.exs", "content": "defmodule M do\nend\n"},
                ctx)
    Read().run({"file_path": "lib/shop.ex"}, ctx)
    Edit().run({"file_path": "lib/shop.ex", "old_string": "def a, do: 1", "new_string": "def a, do: 2"}, ctx)
    SubmitReport().run({"summary": "An index and a fix.", "findings": [
        {"title": "Seq scan on orders", "severity": "high", "evidence": "99% of 1M rows discarded"}],
        "verification": [{"query": "SELECT 1", "before_ms": 900.0, "after_ms": 3.1, "method": "EXPLAIN ANALYZE"}]},
        ctx)
    report = assemble(ctx, "final words")
    assert report.submitted_by_model and report.summary == "An index and a fix."
    assert [(c.file, c.kind, c.created) for c in report.changes] == [
        ("priv/repo/migrations/20240101000000_add_index.exs", "migration", True), ("lib/shop.ex", "code", False)]
    assert "+  def a, do: 2" in report.changes[1].diff
    assert report.verification[0].after_ms == 3.1


def test_without_a_submission_the_report_still_lists_changes(tmp_path):
    ctx = ToolContext(project_root=tmp_path, allow_edits=True)
    Write().run({"file_path": "config/dev.exs", "content": "import Config\n"}, ctx)
    report = assemble(ctx, "I raised work_mem.")
    assert not report.submitted_by_model and report.summary == "I raised work_mem."
    assert [c.kind for c in report.changes] == ["config"]


def test_a_malformed_submission_is_a_tool_error(tmp_path):
    with pytest.raises(ToolError, match="severity"):
        SubmitReport().run({"summary": "x", "findings": [{"title": "t", "severity": "urgent", "evidence": "e"}]},
                           ToolContext(project_root=tmp_path))
