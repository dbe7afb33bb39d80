"""The eval harness end to end: case loading, the CLI, the offline policy through the harness,
and every committed recording replayed with no network."""

import json
import subprocess
import sys

import pytest

from evals.case import list_cases, load_case
from evals.run import REFERENCE, recorded_cases, recording_dir, run_cases
from tools.errors import InputError


def test_every_case_is_well_formed():
    cases = list_cases()
    assert len(cases) >= 1
    for case in cases:
        assert case.checks, case.id
        assert (case.project_dir / "priv" / "repo" / "migrations").is_dir(), case.id
        assert case.task and case.task.strip()[-1] in ".?!", case.id


def test_unknown_case_is_a_clear_error():
    with pytest.raises(InputError, match="no eval case 'nope'"):
        load_case("nope")


def test_eval_list_json():
    out = subprocess.run([sys.executable, "-m", "agent", "eval", "list", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [c.id for c in list_cases()]


def test_offline_run_on_a_fast_subset(pg_server):
    out = subprocess.run([sys.executable, "-m", "agent", "eval", "run", "fk-index-preload", "--offline",
                          "--server-url", pg_server.url(), "--json"], capture_output=True, text=True)
    board = json.loads(out.stdout)
    (score,) = board["cases"]
    assert score["driver"] == REFERENCE and not score["passes_untouched"]
    assert score["turns"] >= 3 and score["tool_calls"] >= 3
    # The policy earns this case: it explains the logged query and writes the safe index migration.
    assert score["passed"] and out.returncode == 0, score


@pytest.mark.parametrize("case_id", recorded_cases(REFERENCE))
def test_recording_replays_offline(pg_server, case_id):
    meta = json.loads((recording_dir(REFERENCE, case_id) / "metadata.json").read_text())
    assert meta["model"] == REFERENCE and "reference policy" in meta["driver"]
    cassette = (recording_dir(REFERENCE, case_id) / "cassette.yaml").read_text()
    assert "sk-ant-" not in cassette and "x-api-key" not in cassette.lower()
    board = run_cases([case_id], replay=True, server_url=pg_server.url())
    (score,) = board.cases
    assert score.driver == f"{REFERENCE} (replay)"
    assert not score.passes_untouched
    # Replaying the recorded decisions against a fresh database reaches the recorded verdict.
    assert score.passed == meta["passed"], score.failed_checks
    assert score.turns == meta["num_turns"]
