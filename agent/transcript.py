"""A run's record: JSON lines under <project>/.ecto-optimizer/runs/<session_id>.jsonl.

Each line is written and flushed as it happens, so a crash or a killed process still leaves
everything up to the last step. Every value passes through tools/redact.py on the way in.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from tools.redact import MASK, redact_text

STATE_DIR = ".ecto-optimizer"
# Dict keys whose values are secrets whatever they look like (a header dump, a config map).
_SECRET_KEYS = {"authorization", "x-api-key", "api_key", "apikey", "password", "auth_token", "proxy-authorization"}


def redact_data(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """A copy of a JSON-like value with every string redacted and secret-named keys masked."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and k.lower() in _SECRET_KEYS and v else redact_data(v, secrets))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, secrets) for v in value]
    return value


def runs_dir(project_root: Path) -> Path:
    """Where transcripts go; the state folder ignores itself so it never shows in `git status`."""
    state = Path(project_root) / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    path = state / "runs"
    path.mkdir(exist_ok=True)
    return path


class Transcript:
    def __init__(self, path: Path, secrets: Iterable[str | None] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.secrets = [s for s in secrets if s]
        self._file = self.path.open("a", encoding="utf-8")

    @classmethod
    def for_session(cls, session_id: str, project_root: Path, directory: Path | None = None,
                    secrets: Iterable[str | None] = ()) -> "Transcript":
        directory = Path(directory) if directory else runs_dir(project_root)
        return cls(directory / f"{session_id}.jsonl", secrets)

    def write(self, event: dict[str, Any]) -> None:
        line = {"ts": round(time.time(), 3), **redact_data(event, self.secrets)}
        self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
