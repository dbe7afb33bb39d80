"""The health report as text: what is wrong, the numbers that show it, and the fix, worst first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.health.model import Finding
    from tools.health.runner import HealthReport

MAX_EVIDENCE_ITEMS = 5


def render_report(report: "HealthReport", *, verbose_fixes: bool = True) -> str:
    counts = {s: sum(f.severity == s for f in report.findings) for s in ("error", "warning", "info")}
    role = report.role or {}
    granted = [r for r, k in (("pg_monitor", "monitor"), ("pg_read_all_stats", "read_all_stats")) if role.get(k)]
    membership = "superuser" if role.get("superuser") else ", ".join(granted) or "no monitoring role"
    lines = [f"Health of {report.database} on PostgreSQL {report.server_version} "
             f"(role {role.get('role', '?')}: {membership})"]
    if report.machine is not None:
        lines.append(f"Machine: {report.machine.describe()}")
    n = len(report.checks)
    lines.append(f"{n} check{'s' if n != 1 else ''}: {_plural(counts['error'], 'error')}, "
                 f"{_plural(counts['warning'], 'warning')}, {counts['info']} info")
    if not report.findings:
        lines.append("")
        lines.append("Nothing to report.")
    for f in report.findings:
        lines.append("")
        lines += render_finding(f, verbose_fixes=verbose_fixes)
    if report.unread:
        lines.append("")
        lines.append("Could not read (the checks above are incomplete without these):")
        for u in report.unread:
            lines.append(f"- {u.check}: {u.what}. {u.why}")
    for note in report.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def render_finding(f: "Finding", *, verbose_fixes: bool = True) -> list[str]:
    lines = [f"[{f.severity}] {f.check}: {f.object}", f"  {f.message}."]
    for key, value in f.evidence.items():
        if value in (None, [], {}, ""):
            continue
        if key == "reasoning" and isinstance(value, list):  # the steps are the point: all of them, in order
            lines.append("  - reasoning:")
            lines += [f"      {i}. {step}" for i, step in enumerate(value, 1)]
            continue
        lines.append(f"  - {key}: {_value(value)}")
    fix = f.fix
    parts = [("Ecto", fix.ecto), ("SQL", fix.sql), ("postgresql.conf", fix.config)]
    for label, text in parts:
        if not text:
            continue
        if not verbose_fixes and label != "Ecto" and fix.ecto:
            continue
        lines.append(f"  Fix ({label}):")
        lines += [f"    {ln}" if ln else "" for ln in text.splitlines()]
    if fix.action:
        lines.append(f"  Also: {fix.action}")
    return lines


def _value(value: Any) -> str:
    if isinstance(value, list):
        shown = [_value(v) for v in value[:MAX_EVIDENCE_ITEMS]]
        more = f" (+{len(value) - MAX_EVIDENCE_ITEMS} more)" if len(value) > MAX_EVIDENCE_ITEMS else ""
        return "; ".join(shown) + more
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
