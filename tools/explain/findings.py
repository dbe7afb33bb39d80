"""What an insight reports: shared by the insight catalogue, the renderers and the CLI's JSON."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Fix(BaseModel):
    sql: str | None = None  # what to run or change, as SQL (e.g. CREATE INDEX CONCURRENTLY ...)
    ecto: str | None = None  # the same change as Ecto code: a migration line or the query rewrite


class Insight(BaseModel):
    id: str  # the rule id, e.g. "seq-scan-filter"
    title: str  # one line, specific to this plan: "Seq Scan on tickets discards 99% of rows"
    score: float  # share of the total time the fix could save, 0..1 (see insights/__init__.py)
    node: int | None = None  # PlanNode.id
    relation: str | None = None
    columns: list[str] = Field(default_factory=list)
    evidence: str  # the numbers that show it, in one or two sentences
    fix: Fix = Field(default_factory=Fix)
