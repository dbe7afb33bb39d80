"""Running cases: prepare a workspace, let an agent work, check the outcome, clean up."""

from __future__ import annotations

from pathlib import Path

from evals.case import load_case
from evals.checks import CaseResult, run_checks
from evals.workspace import State, ensure_server


def check_workspace(case_id: str, workspace: Path) -> CaseResult:
    state = State.load(Path(workspace))
    if state.case != case_id:
        from tools.errors import InputError

        raise InputError(f"{workspace} holds case {state.case}, not {case_id}")
    ensure_server(state)
    return run_checks(load_case(case_id), state, Path(workspace))
