"""The offline reference policy: a deterministic agent behind the same Model seam as Claude.

It follows the specialist's workflow with the same tools a model gets, and nothing else:
find the slow queries (SQL in the task, the project's logs), explain them, act on the insights
whose fix is mechanical (an index, written as a safe migration), and report what it could not
fix. It knows nothing about particular projects or eval cases; whatever it scores, it earns.

It is stateless between calls: every decision is derived from the conversation so far, which
is what lets it answer through a stand-in Messages API (and so through the real SDK path).
Its tool-call ids name the phase they belong to.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from agent.models import message, text, tool_use

MODEL_ID = "reference-policy"
MAX_QUERIES = 3
MAX_LOGS = 3
INDEX_LINE = re.compile(r"^\s*(create (?:unique_)?index\(.*\))\s*$", re.M)
SQL_IN_TASK = re.compile(r"((?:SELECT|WITH|UPDATE|DELETE|INSERT)\b.+?)(?:\n\n|$)", re.S | re.I)
MIGRATION_MODULE = re.compile(r"defmodule\s+([\w.]+)\.Repo\.Migrations\.\w+")
MIGRATION_MODULE_NAME = re.compile(r"defmodule\s+[\w.]+\.Migrations\.(\w+)")


class ReferencePolicy:
    model_id = MODEL_ID

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now

    def query(self, system: list[dict], messages: list[dict], tools: list[dict]) -> dict[str, Any]:
        state = _State(messages, {t["name"] for t in tools})
        # _advise (the HypoPG index advisor) is not in the workflow yet: measured on the eval cases it
        # chose a worse index than the plan's insight on composite-index-order and fixed no other case.
        for step in (self._scan, self._read_logs, self._explain, self._fix, self._submit):
            response = step(state)
            if response is not None:
                return response
        return message(self._report(state), stop_reason="end_turn")

    # -- phases: each returns a turn of tool calls, or None when it has nothing (more) to do ----

    def _scan(self, s: "_State") -> dict | None:
        if s.done("scan"):
            return None
        calls = [tool_use("Glob", {"pattern": "**/*.log"}, id="toolu_scan_logs"),
                 tool_use("Glob", {"pattern": "priv/repo/migrations/*.exs"}, id="toolu_scan_migrations")]
        return message("I'll start by finding the evidence: logs and the migrations that shaped the schema.",
                       *calls)

    def _read_logs(self, s: "_State") -> dict | None:
        if s.done("logs"):
            return None
        logs = _paths(s.result("toolu_scan_logs"))[:MAX_LOGS]
        migrations = _paths(s.result("toolu_scan_migrations"))
        calls = []
        if logs and "analyze_logs" in s.tools:
            calls.append(tool_use("analyze_logs", {"paths": logs, "format": "json"}, id="toolu_logs_0"))
        if "query_stats" in s.tools:
            # What production ran, by total time: it also finds what no log shows.
            calls.append(tool_use("query_stats", {"order_by": "total", "limit": 10, "format": "json"},
                                  id="toolu_logs_stats"))
        if migrations:
            calls.append(tool_use("Read", {"file_path": sorted(migrations)[-1], "limit": 20}, id="toolu_logs_migration"))
        if migrations and "check_migrations" in s.tools and "migration" in s.task.lower():
            calls.append(tool_use("check_migrations", {"format": "json"}, id="toolu_logs_migrations"))
        if not calls:
            return None
        return message("Reading what the logs and the database's statistics say the app runs.", *calls)

    def _explain(self, s: "_State") -> dict | None:
        if s.done("explain") or "explain" not in s.tools:
            return None
        queries = self._candidate_queries(s)
        if not queries:
            return None
        calls = [tool_use("explain", {"sql": sql, **({"params": params} if params else {}), "format": "json"},
                          id=f"toolu_explain_{i}") for i, (sql, params) in enumerate(queries)]
        return message(f"Explaining the {len(calls)} most expensive quer{'y' if len(calls) == 1 else 'ies'} "
                       "with their real params.", *calls)

    def _advise(self, s: "_State") -> dict | None:
        if s.done("advise") or "advise_indexes" not in s.tools:
            return None
        queries = [{"sql": c["input"]["sql"], **({"params": c["input"]["params"]} if "params" in c["input"] else {})}
                   for c in s.calls("toolu_explain_") if not s.is_error(c["id"])]
        if not queries:
            return None
        return message("Asking the index advisor which indexes serve these queries best, validated with "
                       "hypothetical indexes.", tool_use("advise_indexes", {"queries": queries, "format": "json"},
                                                         id="toolu_advise_0"))

    def _fix(self, s: "_State") -> dict | None:
        if s.done("fix") or "Write" not in s.tools:
            return None
        migrations = self._advised_migrations(s) or self._index_migrations(s)
        if not migrations:
            return None
        calls = [tool_use("Write", {"file_path": path, "content": content}, id=f"toolu_fix_{i}")
                 for i, (path, content, _) in enumerate(migrations)]
        return message("The plans point at missing indexes; writing each as a safe, concurrent migration.", *calls)

    def _submit(self, s: "_State") -> dict | None:
        if s.done("report") or "submit_report" not in s.tools:
            return None
        findings, verification = [], []
        logs = s.json_result("toolu_logs_0") or {}
        for f in logs.get("findings", []):
            if f.get("kind") == "n_plus_one":
                findings.append({"title": f"N+1: {f['count']} identical queries in one request",
                                 "severity": "high", "location": f.get("call_site"),
                                 "evidence": f"{f['count']} calls, {f['total_ms']} ms in {f['request']}: {f['sql']}"})
        for f in _migration_findings(s):
            findings.append({"title": f"[{f['rule']}] {f['message']}", "severity": "high",
                             "location": f"{f['file']}:{f['line']}", "evidence": f.get("lock") or f["message"]})
        for report in s.json_results("toolu_explain_"):
            for insight in report.get("insights", [])[:3]:
                findings.append({"title": insight["title"], "evidence": insight["evidence"],
                                 "severity": "high" if insight["score"] >= 0.3 else
                                 "medium" if insight["score"] >= 0.1 else "low",
                                 "location": insight.get("relation")})
            verification.append({"query": report.get("query") or "", "before_ms": report.get("execution_time_ms"),
                                 "method": "EXPLAIN (ANALYZE, BUFFERS) before the change; the change itself was "
                                           "not applied or measured here"})
        written = [c["input"]["file_path"] for c in s.calls("toolu_fix_") if not s.is_error(c["id"])]
        summary = (f"{len(findings)} finding(s) from the logs and plans; "
                   f"{len(written)} safe index migration(s) written." if findings else
                   "No slow query found in the task or the project's logs.")
        follow = ["Run the new migrations, then explain the same queries again and compare."] if written else []
        follow += ["Fix the N+1 call sites by preloading on the whole list."] if any(
            f["title"].startswith("N+1") for f in findings) else []
        return message("Recording the report.", tool_use("submit_report", {
            "summary": summary, "findings": findings, "verification": verification, "follow_ups": follow},
            id="toolu_report_0"))

    # -- reasoning over tool results -----------------------------------------------------------

    def _candidate_queries(self, s: "_State") -> list[tuple[str, str | None]]:
        from tools.explain.params import split_logged_query

        found: list[tuple[str, str | None]] = []
        for match in SQL_IN_TASK.finditer(s.task):
            sql, params = split_logged_query(match.group(1).strip())
            found.append((sql, params))
        logs = s.json_result("toolu_logs_0") or {}
        for group in logs.get("groups", []):
            if group.get("mean_ms", 0) < 1.0 and len(found) >= 1:
                continue  # fast queries are not the problem; explaining them costs turns
            found.append((group["sql"], group.get("params")))
        if not found:
            # No task SQL and no log: pg_stat_statements is the evidence. Its texts carry $n for every
            # constant; without sampled values they get generic plans.
            stats = s.json_result("toolu_logs_stats") or {}
            for q in stats.get("queries", []):
                if q.get("mean_ms", 0) >= 1.0 and _app_query(q.get("query", "")):
                    # query_stats samples values for the $n from the tables when it can: a real plan.
                    found.append((q["query"], json.dumps(q["example_params"]) if q.get("example_params") else None))
        unique = list(dict.fromkeys(found))
        return unique[:MAX_QUERIES]

    def _advised_migrations(self, s: "_State") -> list[tuple[str, str, str]]:
        """The advisor's validated recommendations, each already a complete safe migration."""
        advice = s.json_result("toolu_advise_0") or {}
        stamp = (self._now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
        result = []
        for n, rec in enumerate(advice.get("recommendations") or [], 1):
            content = rec.get("ecto_migration") or ""
            module = MIGRATION_MODULE_NAME.search(content)
            if not module:
                continue
            path = f"priv/repo/migrations/{stamp[:-2]}{n:02d}_{_snake(module.group(1))}.exs"
            result.append((path, content if content.endswith("\n") else content + "\n",
                           f"index on {rec.get('table')} ({', '.join(map(str, rec.get('columns') or []))})"))
        return result

    def _index_migrations(self, s: "_State") -> list[tuple[str, str, str]]:
        """(path, content, why) for each distinct index the insights propose."""
        module = _app_module(s.result("toolu_logs_migration")) or "MyApp"
        seen: set[str] = set()
        result = []
        stamp = (self._now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
        for i, report in enumerate(s.json_results("toolu_explain_")):
            for insight in report.get("insights", []):
                ecto = (insight.get("fix") or {}).get("ecto") or ""
                for line in INDEX_LINE.findall(ecto):
                    if line in seen:
                        continue
                    seen.add(line)
                    name = _migration_name(insight, len(seen))
                    version = f"{stamp[:-2]}{len(seen):02d}"
                    content = _migration_module(module, name, line)
                    path = f"priv/repo/migrations/{version}_{_snake(name)}.exs"
                    result.append((path, content, insight.get("title", "")))
        return result

    def _report(self, s: "_State") -> str:
        lines = ["## What I found"]
        logs = s.json_result("toolu_logs_0") or {}
        for finding in logs.get("findings", []):
            if finding.get("kind") == "n_plus_one":
                lines.append(f"- N+1: the same query ran {finding['count']} times in `{finding['request']}` from "
                             f"`{finding['call_site']}` ({finding['total_ms']} ms). Fix: {finding['fix']}. "
                             "I did not change the code: that rewrite needs judgement I leave to you.")
        for f in _migration_findings(s):
            lines.append(f"- Migration `{f['file']}:{f['line']}` [{f['rule']}]: {f['message']}. The safe version: "
                         f"`ecto-optimizer check-migrations --fix` writes it; I left the files to you.")
        reports = s.json_results("toolu_explain_")
        for report in reports:
            for insight in report.get("insights", [])[:3]:
                lines.append(f"- {insight['title']} (score {insight['score']:.2f}): {insight['evidence']}")
        for error in s.errors("toolu_explain_"):
            lines.append(f"- explain failed: {error}")
        if len(lines) == 1:
            lines.append("- No slow query found: there were no logs with queries and no SQL in the task.")
        lines.append("\n## What I changed")
        written = [(call["input"]["file_path"], s.is_error(call["id"])) for call in s.calls("toolu_fix_")]
        if written:
            for path, failed in written:
                lines.append(f"- {'could not write' if failed else 'wrote'} `{path}`: an index built "
                             "concurrently, alone in its migration, with @disable_ddl_transaction and "
                             "@disable_migration_lock.")
        else:
            lines.append("- Nothing: no insight had a fix I could apply mechanically.")
        lines.append("\n## How it was measured, and what is not verified")
        lines.append("- Each query ran under EXPLAIN (ANALYZE, BUFFERS) in a rolled-back transaction; the "
                     "insights are ranked by the share of time a fix could save.")
        lines.append("- The new indexes were not built or validated here: run the migration, then explain the "
                     "query again and compare the plan and time with the figures above.")
        return "\n".join(lines)


class _State:
    """The conversation read back: the task, the tool calls made, and their results by id."""

    def __init__(self, messages: list[dict], tools: set[str]) -> None:
        self.tools = tools
        self.task = _text(messages[0]) if messages else ""
        self._calls: dict[str, dict] = {}
        self._results: dict[str, dict] = {}
        for msg in messages:
            for block in msg.get("content") if isinstance(msg.get("content"), list) else []:
                if block.get("type") == "tool_use":
                    self._calls[block["id"]] = block
                elif block.get("type") == "tool_result":
                    self._results[block["tool_use_id"]] = block

    def done(self, phase: str) -> bool:
        return any(i.startswith(f"toolu_{phase}_") for i in self._calls)

    def calls(self, prefix: str) -> list[dict]:
        return [c for i, c in self._calls.items() if i.startswith(prefix)]

    def result(self, call_id: str) -> str:
        block = self._results.get(call_id)
        return _text(block) if block and not block.get("is_error") else ""

    def is_error(self, call_id: str) -> bool:
        return bool(self._results.get(call_id, {}).get("is_error"))

    def errors(self, prefix: str) -> list[str]:
        return [_text(b) for i, b in self._results.items() if i.startswith(prefix) and b.get("is_error")]

    def json_result(self, call_id: str) -> Any:
        try:
            return json.loads(self.result(call_id)) if self.result(call_id) else None
        except ValueError:
            return None

    def json_results(self, prefix: str) -> list[Any]:
        return [r for i in sorted(self._results) if i.startswith(prefix) and (r := self.json_result(i))]


def _text(block: dict) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def _paths(glob_output: str) -> list[str]:
    return [ln.strip() for ln in glob_output.splitlines()
            if ln.strip() and not ln.startswith(("(", "No files", "[")) and "/" in ln or ln.endswith((".log", ".exs"))]


def _migration_findings(s: "_State") -> list[dict]:
    checked = s.json_result("toolu_logs_migrations") or {}
    return [f for f in checked.get("findings", []) if f.get("severity") == "error"]


def _app_query(sql: str) -> bool:
    """A statement the app sent (not a catalog or monitoring query) that explain accepts."""
    from tools.errors import InputError
    from tools.explain.classify import classify

    lowered = sql.lower()
    if any(marker in lowered for marker in ("pg_catalog", "pg_stat", "information_schema", "hypopg", "explain ")):
        return False
    try:
        classify(sql)
    except InputError:
        return False
    return True


def _app_module(read_output: str) -> str | None:
    match = MIGRATION_MODULE.search(read_output or "")
    return match.group(1) if match else None


def _migration_name(insight: dict, n: int) -> str:
    columns = "_".join(re.sub(r"\W+", "_", c).strip("_") for c in insight.get("columns") or []) or f"index{n}"
    return f"add_{insight.get('relation') or 'table'}_{columns}_index"


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in _snake(name).split("_"))


def _migration_module(app: str, name: str, index_line: str) -> str:
    return (f"defmodule {app}.Repo.Migrations.{_camel(name)} do\n"
            "  use Ecto.Migration\n"
            "  @disable_ddl_transaction true\n"
            "  @disable_migration_lock true\n\n"
            "  def change do\n"
            f"    {index_line}\n"
            "  end\n"
            "end\n")


__all__ = ["ReferencePolicy", "MODEL_ID", "text"]
