"""A workspace: one case's project copied into a folder, with a database of its own.

`prepare` copies the project, builds its database from the project's migrations and data, and
records what it needs later in <workspace>/.ecto-eval/state.json: the database URLs, the
server it started (if any), and a fingerprint of every file so checks can tell what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evals import database as db
from evals.case import Case, load_case
from tools.errors import InputError

STATE_DIR = ".ecto-eval"
# Folders the agent or its tools create that are not part of the project under review.
IGNORED_DIRS = {STATE_DIR, ".ecto-optimizer", ".git", "_build", "deps", "node_modules"}
SERVER_ENV = "ECTO_OPTIMIZER_EVAL_SERVER"


@dataclass
class State:
    case: str
    workspace: str
    admin_url: str
    database: str
    pristine: str
    database_url: str
    server_dir: str | None = None  # set when prepare started a private server
    server_port: int | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, workspace: Path) -> "State":
        path = Path(workspace) / STATE_DIR / "state.json"
        if not path.is_file():
            raise InputError(f"{workspace} is not a prepared workspace (run `eval prepare` first)")
        return cls(**json.loads(path.read_text()))

    def save(self) -> None:
        folder = Path(self.workspace) / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".gitignore").write_text("*\n")
        (folder / "state.json").write_text(json.dumps(asdict(self), indent=2))


def fingerprint(project: Path) -> dict[str, str]:
    result: dict[str, str] = {}
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            result[path.relative_to(project).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def database_name(case_id: str, workspace: Path) -> str:
    digest = hashlib.sha1(str(workspace.resolve()).encode()).hexdigest()[:8]
    return f"eval_{re.sub(r'[^a-z0-9]+', '_', case_id.lower())}_{digest}"


def _server(workspace: Path, server_url: str | None) -> tuple[str, str | None, int | None]:
    """An admin URL: the given server, or a private one started for this workspace."""
    server_url = server_url or os.environ.get(SERVER_ENV)
    if server_url:
        return server_url, None, None
    from tools.db.server import LocalPostgres

    server = LocalPostgres(base_dir=Path(tempfile.mkdtemp(prefix="ecto-eval-pg-"))).start()
    return server.url(), str(server.base_dir), server.port


def prepare(case_id: str, workspace: Path, *, server_url: str | None = None) -> State:
    case = load_case(case_id)
    workspace = Path(workspace).resolve()
    if workspace.exists() and any(workspace.iterdir()):
        if (workspace / STATE_DIR / "state.json").exists():
            clean(workspace)
        else:
            raise InputError(f"workspace {workspace} exists and is not empty")
    shutil.copytree(case.project_dir, workspace, dirs_exist_ok=True)
    admin_url, server_dir, port = _server(workspace, server_url)
    name = database_name(case.id, workspace)
    state = State(case=case.id, workspace=str(workspace), admin_url=admin_url, database=name,
                  pristine=f"{name}_pristine", database_url=db.admin_url_for(admin_url, name),
                  server_dir=server_dir, server_port=port)
    state.save()  # saved early so `clean` can undo a half-finished prepare
    build_database(case, state)
    state.fingerprints = fingerprint(workspace)
    state.save()
    return state


def build_database(case: Case, state: State) -> None:
    pending = {(case.project_dir / p).resolve() for p in case.pending_migrations}
    migrations = sorted(p for p in (case.project_dir / "priv" / "repo" / "migrations").glob("*.exs")
                        if p.resolve() not in pending)
    db.create_database(state.admin_url, state.pristine)
    pristine_url = db.admin_url_for(state.admin_url, state.pristine)
    db.apply_migrations(pristine_url, migrations)
    db.run_script(pristine_url, case.data_sql)
    # Before the copies are made, so they inherit the visibility map and statistics and never
    # wait on autovacuum to reach the costs the checks expect.
    db.vacuum_analyze(pristine_url)
    db.create_database(state.admin_url, state.database, template=state.pristine)
    db.replay_workload(state.database_url, case.workload)


def clean(workspace: Path) -> None:
    """Drop the workspace's databases and stop its private server; the files stay."""
    state = State.load(Path(workspace))
    if state.server_dir:
        from tools.db.server import LocalPostgres

        LocalPostgres(base_dir=Path(state.server_dir), port=state.server_port or 0).stop()
    else:
        for name in (state.database, state.pristine, f"{state.database}_scratch"):
            db.drop_database(state.admin_url, name)
    shutil.rmtree(Path(workspace) / STATE_DIR, ignore_errors=True)


def ensure_server(state: State) -> None:
    """Restart the workspace's private server if it stopped (a reboot, a killed session)."""
    if not state.server_dir:
        return
    import psycopg

    try:
        psycopg.connect(state.admin_url, connect_timeout=3).close()
    except psycopg.OperationalError:
        from tools.db.server import LocalPostgres

        LocalPostgres(base_dir=Path(state.server_dir), port=state.server_port or 0).start()
