"""The index advisor and the what-if test as agent tools."""

from __future__ import annotations

import json
from typing import Any

from tools.base import Tool, ToolContext
from tools.errors import InputError
from tools.indexes.advisor import AdviseOptions, QueryInput, advise
from tools.indexes.whatif import try_indexes

_QUERIES = {
    "type": "array",
    "description": "The queries, as Ecto logs them: SQL with $1..$n, and optionally their params and how "
                   "often they run.",
    "items": {
        "type": "object",
        "properties": {
            "sql": {"type": "string", "description": "One SQL statement."},
            "params": {"description": "A JSON array, or Ecto's logged list as a string. Omit for a generic plan.",
                       "anyOf": [{"type": "array"}, {"type": "string"}]},
            "calls": {"type": "number", "description": "How often it runs, relative to the others. Default 1."},
        },
        "required": ["sql"],
    },
}


def query_inputs(raw: Any) -> list[QueryInput]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("`queries` must be a list of {sql, params?, calls?}")
    out = []
    for n, item in enumerate(raw, 1):
        if isinstance(item, str):
            item = {"sql": item}
        if not isinstance(item, dict) or not isinstance(item.get("sql"), str):
            raise InputError(f"query {n}: expected an object with `sql`")
        out.append(QueryInput(item["sql"], item.get("params"), item.get("calls", 1)))
    return out


class AdviseIndexes(Tool):
    name = "advise_indexes"
    input_schema = {
        "type": "object",
        "properties": {
            "queries": _QUERIES,
            "from_pg_stat_statements": {"type": "boolean",
                                        "description": "Add the database's heaviest statements (by total time, "
                                                       "weighted by calls). Default false."},
            "budget_mb": {"type": "number", "description": "Storage the new indexes may take, in MB. Default: none."},
            "scratch": {"type": "boolean",
                        "description": "Without HypoPG, build real indexes in a rolled-back transaction. Only "
                                       "honoured when this session allows database writes."},
            "format": {"type": "string", "enum": ["text", "json"],
                       "description": "text (default), or json: {recommendations, unvalidated, notes}."},
        },
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        queries = query_inputs(params.get("queries"))
        budget = params.get("budget_mb")
        if budget is not None and not isinstance(budget, (int, float)):
            raise InputError("`budget_mb` must be a number")
        wants_scratch = bool(params.get("scratch", False))
        options = AdviseOptions(budget_mb=budget, from_pg_stat_statements=bool(params.get("from_pg_stat_statements")),
                                scratch=wants_scratch and ctx.allow_writes_to_database, project=ctx.project_root)
        advice = advise(queries, ctx.database_url, options)
        if wants_scratch and not ctx.allow_writes_to_database:
            advice.notes.append("scratch was asked for, but this session does not allow writes to the database")
        if params.get("format") == "json":
            return json.dumps(advice.as_json(), indent=1, default=str)
        return advice.text()


class HypotheticalIndex(Tool):
    name = "hypothetical_index"
    input_schema = {
        "type": "object",
        "properties": {
            "indexes": {
                "type": "array",
                "description": "The indexes to try, all at once.",
                "items": {
                    "type": "object",
                    "properties": {
                        "table": {"type": "string"},
                        "columns": {"type": "array", "items": {"type": "string"},
                                    "description": "Key columns or expressions in order, e.g. "
                                                   "[\"account_id\", \"occurred_at DESC\"] or [\"lower(email)\"]."},
                        "where": {"type": "string", "description": "A partial index's predicate, as SQL."},
                        "include": {"type": "array", "items": {"type": "string"},
                                    "description": "Payload columns for index-only scans."},
                        "using": {"type": "string", "enum": ["btree", "hash", "brin", "bloom"]},
                        "unique": {"type": "boolean"},
                    },
                    "required": ["table", "columns"],
                },
            },
            "queries": _QUERIES,
            "format": {"type": "string", "enum": ["text", "json"]},
        },
        "required": ["indexes", "queries"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        report = try_indexes(params.get("indexes"), query_inputs(params.get("queries")), ctx.database_url)
        if params.get("format") == "json":
            return json.dumps(report.as_json(), indent=1, default=str)
        return report.text()
