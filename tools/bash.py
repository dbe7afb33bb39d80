"""Bash: run one shell command in the project root, with Claude Code's parameters.

The command gets its own process group so that a timeout, or the end of the command, stops
everything it started: a test server or a `sleep &` left behind would outlive the call with
nothing able to stop it. It also gets an environment without secrets, and its output is
scrubbed again on the way out, because a command can still print a secret it found in a file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any

from tools.base import Tool, ToolContext, ToolError
from tools.fs import check_params, int_param, require_permission, str_param
from tools.redact import redact_text, scrub_env, secret_values, url_password

DEFAULT_TIMEOUT_MS = 120_000
MAX_TIMEOUT_MS = 600_000
MAX_OUTPUT_CHARS = 30_000
# Bytes held in memory from each end of the output; the middle of a flood is dropped as it arrives.
KEEP_BYTES = 256 * 1024
# After the command is over, how long to wait for its output pipe to drain.
DRAIN_S = 2.0
# Commands that would otherwise wait for a pager or a password prompt nobody can answer.
QUIET_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


class _Collector(threading.Thread):
    """Reads the command's output as it comes, keeping the head and the tail."""

    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd = fd
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            with self.lock:
                room = KEEP_BYTES - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                self.tail += chunk
                if len(self.tail) > KEEP_BYTES:
                    excess = len(self.tail) - KEEP_BYTES
                    self.dropped += excess
                    del self.tail[:excess]

    def snapshot(self) -> tuple[str, int, str]:
        with self.lock:
            return (self.head.decode("utf-8", "replace"), self.dropped, self.tail.decode("utf-8", "replace"))


def _exited(pid: int) -> bool:
    """Whether the process has ended, without reaping it: while it is an unreaped zombie its
    process-group id cannot be reused, so killing the group afterwards hits only our processes."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def cut_middle(text: str, limit: int = MAX_OUTPUT_CHARS, dropped: int = 0) -> str:
    """Keep the start and the end, where commands put what matters (what ran; the summary and
    the error), and say how much of the middle is missing."""
    if len(text) <= limit and not dropped:
        return text
    half = limit // 2
    head, tail = text, ""
    if len(text) > limit:
        head, tail = text[:half], text[-half:]
        # Cut at line ends when one is near, so no half lines appear on either side of the cut.
        if head.rfind("\n") > half // 2:
            head = head[:head.rfind("\n")]
        if 0 <= tail.find("\n") < half // 2:
            tail = tail[tail.find("\n") + 1:]
    missing = len(text) - len(head) - len(tail) + dropped
    return f"{head}\n\n… [{missing:,} characters of output cut here] …\n\n{tail}"


class Bash(Tool):
    name = "Bash"
    read_only = False
    input_schema = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The shell command to run (bash -c) in the project root."},
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMEOUT_MS,
                "description": f"Timeout in milliseconds (default {DEFAULT_TIMEOUT_MS}, at most {MAX_TIMEOUT_MS}).",
            },
            "description": {
                "type": "string",
                "description": "What the command does, in 5-10 words, for the person approving it "
                               "(e.g. \"Run the test suite for the Orders context\").",
            },
        },
        "required": ["command"],
    }

    def run(self, params: dict[str, Any], ctx: ToolContext) -> str:
        params = check_params(params, self.name)
        command = str_param(params, "command", self.name, required=True, non_empty=True)
        timeout_ms = int_param(params, "timeout", self.name, default=DEFAULT_TIMEOUT_MS, minimum=1,
                               maximum=MAX_TIMEOUT_MS)
        description = str_param(params, "description", self.name)
        summary = f"{description}\n$ {command}" if description else f"$ {command}"
        require_permission(ctx, self.name, summary, allowed=ctx.allow_bash, what="commands", flag="--allow-bash")

        env = scrub_env()
        env.update(QUIET_ENV)
        try:
            proc = subprocess.Popen(["bash", "-c", command], cwd=ctx.project_root, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as exc:
            raise ToolError(f"cannot start bash: {exc.strerror}") from None
        collector = _Collector(proc.stdout.fileno())
        collector.start()

        deadline = time.monotonic() + timeout_ms / 1000
        timed_out = False
        pause = 0.005
        while not _exited(proc.pid):
            if time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, 0.05)
        _kill_group(proc.pid)
        proc.wait()
        collector.join(DRAIN_S)  # a process that left the group (setsid) may hold the pipe open
        head, dropped, tail = collector.snapshot()
        if not collector.is_alive():
            proc.stdout.close()

        secrets = secret_values() + [url_password(ctx.database_url)]
        output = cut_middle(redact_text(head + tail, secrets), dropped=dropped)
        output = output.rstrip("\n") or "(no output)"
        if timed_out:
            status = (f"[timed out after {timeout_ms / 1000:g} s: the command and everything it started "
                      "were killed]")
        elif proc.returncode < 0:
            status = f"[killed by signal {-proc.returncode}]"
        else:
            status = f"[exit code: {proc.returncode}]"
        return f"{output}\n{status}"
