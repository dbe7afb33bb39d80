"""An eval case: a small Ecto project, its data, a task as a developer would write it, and checks.

Layout of evals/cases/<id>/:
  case.json   id, title, task, the workload the app runs, and the checks (see evals/checks.py)
  data.sql    a deterministic data generator, run after the project's migrations
  project/    the Ecto/Phoenix project the agent works in (lib/, priv/repo/migrations/, config/, log/)
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tools.errors import InputError


class WorkloadQuery(BaseModel):
    """A query the app runs, replayed at prepare time so pg_stat_statements looks like production."""

    sql: str
    params: list[Any] = Field(default_factory=list)
    calls: int = 1


class CheckSpec(BaseModel):
    kind: str
    name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    def label(self) -> str:
        return self.name or self.kind


class Case(BaseModel):
    id: str
    title: str
    kind: str  # the kind of problem: index, n_plus_one, rewrite, migration, config, statistics, ...
    task: str
    workload: list[WorkloadQuery] = Field(default_factory=list)
    checks: list[CheckSpec]
    # Migrations written but not yet deployed (project-relative paths): left out of the database at
    # prepare time and judged by the checks like the agent's own new migrations.
    pending_migrations: list[str] = Field(default_factory=list)
    # Globs (relative to the project) the task may change; every other file must stay as it was.
    may_change: list[str] = Field(default_factory=lambda: ["priv/repo/migrations/*.exs"])
    directory: Path = Field(default=Path("."), exclude=True)

    @property
    def project_dir(self) -> Path:
        return self.directory / "project"

    @property
    def data_sql(self) -> str:
        path = self.directory / "data.sql"
        return path.read_text() if path.exists() else ""


def cases_root() -> Path:
    return Path(str(resources.files("evals").joinpath("cases")))


def load_case(case_id: str) -> Case:
    directory = cases_root() / case_id
    spec = directory / "case.json"
    if not spec.is_file():
        known = ", ".join(c.id for c in list_cases()) or "none"
        raise InputError(f"no eval case {case_id!r} (cases: {known})")
    try:
        case = Case.model_validate({**json.loads(spec.read_text()), "directory": directory})
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"eval case {case_id}: invalid case.json: {first}") from None
    if case.id != case_id:
        raise InputError(f"eval case {case_id}: case.json says id {case.id!r}")
    return case


def list_cases() -> list[Case]:
    root = cases_root()
    if not root.is_dir():
        return []
    return [load_case(p.name) for p in sorted(root.iterdir()) if (p / "case.json").is_file()]
