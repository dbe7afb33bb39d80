"""`eval run`: prepare each case, let our agent work on it, check, clean up, keep score.

Three ways to drive the agent:
- a real model through the Anthropic SDK (`--model`, needs ANTHROPIC_API_KEY);
- the offline reference policy (`--offline`), called directly;
- a recording (`--replay`): the SDK replays a vcrpy cassette with no network and no key.
`--record` stores the HTTP exchange, the transcript and metadata under
evals/recordings/<model>/<case>/. Recording the offline policy goes through the real SDK path:
a local stand-in Messages API serves the policy's decisions.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field

from agent.loop import Limits, Usage
from evals.case import load_case
from evals.harness import check_workspace
from evals.workspace import clean, prepare
from tools.errors import InputError

REFERENCE = "reference-policy"
EVAL_LIMITS = Limits(max_turns=30, max_cost_usd=2.0, max_seconds=600)


class CaseScore(BaseModel):
    case: str
    passed: bool
    turns: int
    tool_calls: int
    usage: Usage
    cost_usd: float
    wall_s: float
    driver: str  # "reference-policy", "reference-policy (replay)", a model id
    subtype: str
    failed_checks: list[str] = Field(default_factory=list)
    # The checks also run on the untouched fixture: a case that passes there proves nothing.
    passes_untouched: bool = False


class Scoreboard(BaseModel):
    pass_rate: float
    cases: list[CaseScore]


def recordings_root() -> Path:
    return Path(str(resources.files("evals").joinpath("recordings")))


def recording_dir(model: str, case: str) -> Path:
    return recordings_root() / model / case


def recorded_cases(model: str = REFERENCE) -> list[str]:
    root = recordings_root() / model
    return sorted(p.name for p in root.iterdir() if (p / "cassette.yaml").is_file()) if root.is_dir() else []


def run_cases(case_ids: list[str], *, model: str | None = None, offline: bool = False, record: bool = False,
              replay: bool = False, server_url: str | None = None,
              on_progress: Callable[[str], None] | None = None, keep: Path | None = None) -> Scoreboard:
    if record and replay:
        raise InputError("--record and --replay exclude each other")
    driver = REFERENCE if offline or (replay and not model) else (model or None)
    if driver is None:
        from agent.models import DEFAULT_MODEL
        import os

        driver = os.environ.get("ECTO_OPTIMIZER_MODEL") or DEFAULT_MODEL
    cases = [load_case(c) for c in case_ids]
    scores = []
    with ExitStack() as stack:
        if not server_url:
            from tools.db.server import LocalPostgres

            server = stack.enter_context(LocalPostgres())
            server_url = server.url()
        for case in cases:
            if on_progress:
                on_progress(f"{case.id}: preparing")
            scores.append(_run_one(case.id, driver, offline=offline or driver == REFERENCE, record=record,
                                   replay=replay, server_url=server_url, on_progress=on_progress, keep=keep))
    passed = sum(s.passed for s in scores)
    return Scoreboard(pass_rate=round(passed / len(scores), 3) if scores else 0.0, cases=scores)


def _run_one(case_id: str, driver: str, *, offline: bool, record: bool, replay: bool, server_url: str,
             on_progress: Callable[[str], None] | None, keep: Path | None) -> CaseScore:
    from agent.commands import build_agent

    case = load_case(case_id)
    workspace = (keep / case_id) if keep else Path(tempfile.mkdtemp(prefix=f"eval-{case_id}-"))
    if keep and workspace.exists():
        shutil.rmtree(workspace)
    state = prepare(case_id, workspace, server_url=server_url)
    try:
        if on_progress:
            on_progress(f"{case_id}: checking the untouched fixture")
        untouched = check_workspace(case_id, workspace).passed
        started = time.monotonic()
        with ExitStack() as stack:
            model = _model(stack, driver, case_id, offline=offline, record=record, replay=replay)
            if on_progress:
                on_progress(f"{case_id}: the agent is working ({_label(driver, replay)})")
            agent = build_agent(model, project=workspace, database_url=state.database_url, allow_edits=True,
                                allow_bash=False, limits=EVAL_LIMITS)
            try:
                result = agent.run(case.task)
            finally:
                agent.close()
        if on_progress:
            on_progress(f"{case_id}: checking")
        verdict = check_workspace(case_id, workspace)
        wall = time.monotonic() - started
        if record:
            _save_recording_metadata(driver, case_id, result, verdict.passed, Path(result.transcript or ""))
        tool_calls = _count_tool_calls(Path(result.transcript)) if result.transcript else 0
        return CaseScore(case=case_id, passed=verdict.passed, turns=result.num_turns, tool_calls=tool_calls,
                         usage=result.usage, cost_usd=round(result.total_cost_usd, 4), wall_s=round(wall, 1),
                         driver=_label(driver, replay), subtype=result.subtype,
                         failed_checks=[c.name for c in verdict.checks if not c.passed],
                         passes_untouched=untouched)
    finally:
        clean(workspace)
        if not keep:
            shutil.rmtree(workspace, ignore_errors=True)


def _label(driver: str, replay: bool) -> str:
    return f"{driver} (replay)" if replay else driver


def _model(stack: ExitStack, driver: str, case_id: str, *, offline: bool, record: bool, replay: bool):
    import anthropic

    from agent.models import AnthropicModel
    from agent.recording import NOTHING_LISTENS, recorder

    if not record and not replay:
        if offline:
            from agent.reference_policy import ReferencePolicy

            return ReferencePolicy()
        from agent.commands import build_model

        return build_model(driver)
    folder = recording_dir(driver, case_id)
    if replay:
        if not (folder / "cassette.yaml").is_file():
            raise InputError(f"no recording of {case_id} for {driver} in {folder}")
        stack.enter_context(recorder(folder, "none").use_cassette("cassette.yaml"))
        client = anthropic.Anthropic(base_url=NOTHING_LISTENS, api_key="replay", max_retries=0)
        return AnthropicModel(_recorded_model_id(folder), client=client)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cassette.yaml").unlink(missing_ok=True)
    stack.enter_context(recorder(folder, "all").use_cassette("cassette.yaml"))
    if offline:
        from agent.reference_policy import ReferencePolicy
        from agent.standin_api import StandinAPI

        policy = ReferencePolicy()
        api = stack.enter_context(StandinAPI(decide=lambda body: policy.query(
            body.get("system") or [], body.get("messages") or [], body.get("tools") or [])))
        client = anthropic.Anthropic(base_url=api.url, api_key="offline-reference-policy", max_retries=0)
        return AnthropicModel(REFERENCE, client=client)
    return AnthropicModel(driver)


def _recorded_model_id(folder: Path) -> str:
    meta = folder / "metadata.json"
    return json.loads(meta.read_text()).get("model", REFERENCE) if meta.is_file() else REFERENCE


def _save_recording_metadata(driver: str, case_id: str, result, passed: bool, transcript: Path) -> None:
    import anthropic

    folder = recording_dir(driver, case_id)
    if transcript.is_file():
        shutil.copyfile(transcript, folder / "transcript.jsonl")
    meta = {
        "case": case_id, "model": driver,
        "driver": "the offline reference policy (deterministic, no LLM), served through a local stand-in "
                  "Messages API and the real anthropic SDK" if driver == REFERENCE else f"Anthropic model {driver}",
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "anthropic_sdk": anthropic.__version__, "passed": passed, "num_turns": result.num_turns,
        "subtype": result.subtype,
    }
    (folder / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")


def _count_tool_calls(transcript: Path) -> int:
    if not transcript.is_file():
        return 0
    count = 0
    for line in transcript.read_text().splitlines():
        try:
            count += json.loads(line).get("type") == "tool"
        except ValueError:
            continue
    return count


def markdown(board: Scoreboard) -> str:
    rows = ["| case | passed | turns | tool calls | input tok | output tok | cache read | cache write | cost $ | "
            "wall s | driver |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    total = Usage()
    for s in board.cases:
        total.add(s.usage.model_dump())
        rows.append(f"| {s.case} | {'yes' if s.passed else 'no'} | {s.turns} | {s.tool_calls} | "
                    f"{s.usage.input_tokens} | {s.usage.output_tokens} | {s.usage.cache_read_input_tokens} | "
                    f"{s.usage.cache_creation_input_tokens} | {s.cost_usd:.4f} | {s.wall_s} | {s.driver} |")
    passed = sum(s.passed for s in board.cases)
    invalid = [s.case for s in board.cases if s.passes_untouched]
    rows.append(f"| **total** | **{passed}/{len(board.cases)}** | {sum(s.turns for s in board.cases)} | "
                f"{sum(s.tool_calls for s in board.cases)} | {total.input_tokens} | {total.output_tokens} | "
                f"{total.cache_read_input_tokens} | {total.cache_creation_input_tokens} | "
                f"{sum(s.cost_usd for s in board.cases):.4f} | {sum(s.wall_s for s in board.cases):.1f} | |")
    if invalid:
        rows.append(f"\nWARNING: these cases pass on the untouched fixture, so they prove nothing: {', '.join(invalid)}")
    return "\n".join(rows)
