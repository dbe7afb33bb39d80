"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).

One run, the rule catalogue as the driver's rules (so the Security tab shows each rule's
documentation and safe alternative), one result per finding. Paths are made relative to the
repository root (`%SRCROOT%`) because code scanning matches results to files that way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tools.migrations.lint import LintResult
from tools.migrations.rules import RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _uri(file: str, base: Path | None) -> str:
    path = Path(file)
    if base is not None:
        try:
            absolute = path if path.is_absolute() else Path(os.getcwd()) / path
            path = absolute.resolve().relative_to(base.resolve())
        except ValueError:
            pass
    return path.as_posix()


def to_sarif(result: LintResult, base: Path | None = None, version: str = "0.1.0") -> dict[str, Any]:
    base = base or _git_root(result.root) or result.root
    index = {r.id: i for i, r in enumerate(RULES)}
    rules = []
    for r in RULES:
        doc = r.doc()
        help_md = (f"**Why:** {doc['why']}\n\n**Lock:** {doc['lock']}\n\n"
                   f"**Safe alternative:**\n\n```elixir\n{doc['safe']}\n```")
        rules.append({
            "id": r.id,
            "name": "".join(p.capitalize() for p in r.id.split("-")),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": doc["catches"]},
            "help": {"text": f"{doc['why']}\n\nSafe alternative:\n{doc['safe']}", "markdown": help_md},
            "defaultConfiguration": {"level": LEVELS[r.severity]},
            "properties": {"tags": ["migrations", "postgresql", "ecto"], "precision": "high"},
        })
    results = []
    for f in result.findings:
        text = f.message + (f" Lock: {f.lock}." if f.lock else "")
        item: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVELS[f.severity],
            "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(f.file, base), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": f.line},
            }}],
        }
        if f.fix:
            item["properties"] = {"fix": f.fix}
        results.append(item)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "ecto-optimizer check-migrations", "version": version,
                                "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": (base.resolve().as_uri() + "/") if base else "file:///"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def _git_root(start: Path | None) -> Path | None:
    if start is None:
        return None
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
