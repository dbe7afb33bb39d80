"""Bash against real processes: exit codes, output cutting, timeouts that kill the whole process
group, secrets kept out of the environment and the output, and permissions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tools.base import ToolContext, ToolError
from tools.bash import MAX_OUTPUT_CHARS, Bash

API_KEY = "sk-ant-api03-" + "k" * 40
DB_PASSWORD = "pw-Zx81-very-secret"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(project_root=tmp_path, allow_bash=True)


def run(command: str, ctx: ToolContext, **params) -> str:
    return Bash().run({"command": command, **params}, ctx)


def error_of(params: dict, ctx: ToolContext) -> str:
    with pytest.raises(ToolError) as info:
        Bash().run(params, ctx)
    return str(info.value)


def is_gone(pid: int, within: float = 2.0) -> bool:
    """True once the process no longer runs (gone, or a zombie awaiting its new parent)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_output_and_exit_code(ctx):
    assert run("echo hello; echo oops >&2; exit 3", ctx) == "hello\noops\n[exit code: 3]"
    assert run("true", ctx) == "(no output)\n[exit code: 0]"
    assert run("kill -TERM $$", ctx).endswith("[killed by signal 15]")


def test_runs_in_the_project_root_with_no_stdin(ctx, tmp_path):
    (tmp_path / "mix.exs").write_text("x")
    assert run("pwd; ls; cat", ctx) == f"{tmp_path}\nmix.exs\n[exit code: 0]"


def test_long_output_is_cut_in_the_middle_visibly(ctx):
    out = run("seq 1 100000", ctx)
    body, status = out.rsplit("\n", 1)
    assert status == "[exit code: 0]"
    assert len(body) <= MAX_OUTPUT_CHARS + 200
    assert body.startswith("1\n2\n3\n") and body.endswith("\n99999\n100000")
    assert "characters of output cut here" in body
    # whole lines on both sides of the cut
    before, after = body.split("\n\n… [", 1)
    assert before.split("\n")[-1].isdigit() and after.split("\n\n", 1)[1].split("\n")[0].isdigit()


def test_a_flood_of_output_is_bounded(ctx):
    started = time.monotonic()
    out = run("head -c 50000000 /dev/zero | tr '\\0' 'x'; echo; echo done", ctx)
    assert time.monotonic() - started < 30
    assert out.endswith("done\n[exit code: 0]") and len(out) < MAX_OUTPUT_CHARS + 200
    assert "50,0" in out or "49,9" in out  # the cut says roughly how much is missing


def test_timeout_kills_the_command_and_its_children_promptly(ctx, tmp_path):
    started = time.monotonic()
    out = run("sleep 5 & echo $! > child.pid; echo started; wait", ctx, timeout=500)
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed
    assert out.startswith("started\n")
    assert "timed out after 0.5 s" in out
    assert is_gone(int((tmp_path / "child.pid").read_text()))


def test_background_processes_do_not_outlive_the_command(ctx, tmp_path):
    started = time.monotonic()
    out = run("sleep 30 > /dev/null 2>&1 & echo $! > bg.pid; echo ok", ctx)
    assert out == "ok\n[exit code: 0]"
    assert time.monotonic() - started < 3
    assert is_gone(int((tmp_path / "bg.pid").read_text()))


def test_a_background_process_holding_the_output_does_not_hang_the_call(ctx):
    started = time.monotonic()
    assert run("sleep 30 & echo ok", ctx) == "ok\n[exit code: 0]"
    assert time.monotonic() - started < 3


def test_environment_is_scrubbed_of_secrets(ctx, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{DB_PASSWORD}@db.internal:5432/app_prod")
    monkeypatch.setenv("PGPASSWORD", DB_PASSWORD)
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    out = run("env", ctx)
    assert "HARMLESS_SETTING=visible" in out
    for leak in ("ANTHROPIC_API_KEY", "DATABASE_URL", "PGPASSWORD", API_KEY, DB_PASSWORD):
        assert leak not in out


def test_secrets_printed_from_files_are_masked(ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{DB_PASSWORD}@db.internal:5432/app_prod")
    (tmp_path / ".env").write_text(f"KEY={API_KEY}\nPW={DB_PASSWORD}\n"
                                   "URL=ecto://other:hunter2hunter2@localhost/dev\n")
    out = run("cat .env", ctx)
    assert API_KEY not in out and DB_PASSWORD not in out and "hunter2hunter2" not in out
    assert "KEY=***" in out and "PW=***" in out and "ecto://other:***@localhost/dev" in out


def test_the_context_database_password_is_masked(tmp_path):
    ctx = ToolContext(project_root=tmp_path, allow_bash=True,
                      database_url="postgres://u:ctx-only-password@h/db")
    (tmp_path / "notes").write_text("the password is ctx-only-password\n")
    assert "ctx-only-password" not in run("cat notes", ctx)


def test_commands_are_refused_when_not_allowed(tmp_path):
    ctx = ToolContext(project_root=tmp_path)
    message = error_of({"command": "touch made"}, ctx)
    assert "commands are not allowed in this run" in message and "--allow-bash" in message
    assert not (tmp_path / "made").exists()


def test_approval_callback(tmp_path):
    asked = []
    answer = {"value": False}

    def approve(tool: str, summary: str) -> bool:
        asked.append((tool, summary))
        return answer["value"]

    ctx = ToolContext(project_root=tmp_path, approve=approve)
    params = {"command": "touch made", "description": "Create a marker file"}
    message = error_of(params, ctx)
    assert "commands are not allowed in this run" in message and "declined" in message
    assert not (tmp_path / "made").exists()
    assert asked == [("Bash", "Create a marker file\n$ touch made")]
    answer["value"] = True
    assert Bash().run(params, ctx) == "(no output)\n[exit code: 0]"
    assert (tmp_path / "made").exists()


def test_parameters_are_validated(ctx):
    assert "needs `command`" in error_of({}, ctx)
    assert "must not be empty" in error_of({"command": "   "}, ctx)
    assert "must be a string" in error_of({"command": ["ls"]}, ctx)
    assert "at most 600000" in error_of({"command": "true", "timeout": 600001}, ctx)
    assert "must be an integer" in error_of({"command": "true", "timeout": "soon"}, ctx)
    assert "at least 1" in error_of({"command": "true", "timeout": 0}, ctx)
    assert run("echo ok", ctx, timeout="2000") == "ok\n[exit code: 0]"


def test_schema_and_description():
    schema = Bash.input_schema
    assert schema["required"] == ["command"]
    assert set(schema["properties"]) == {"command", "timeout", "description"}
    assert all(prop.get("description") for prop in schema["properties"].values())
    assert Bash.read_only is False
    text = Bash().description
    assert "Grep" in text and "Read" in text and "Glob" in text
