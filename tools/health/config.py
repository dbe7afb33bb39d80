"""Server settings against PGTune's formulas for the machine, and the usual pitfalls.

The machine (cores, memory, storage) comes from flags, or from this host when the database runs
on it: the URL points at a local address and the server's data_directory exists here. PGTune's
formulas and defaults are those recorded in shared/reference/db-health.md §4 (le0pard/pgtune
configurationSlice.js); the pitfalls are pg-index-health's ImportantParam list, ruby-pg-extras'
diagnose and postgresqltuner's memory and connection rules.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.errors import InputError
from tools.explain.ecto_fix import APP_ATOM, APP_MODULE, elixir_string
from tools.health.model import Env, Finding, HealthFix, human_bytes

KB = 1024
MB = 1 << 20
GB = 1 << 30

WORKLOADS = ("web", "oltp", "dw", "mixed", "desktop")
STORAGE = ("ssd", "hdd", "nvme", "san")

# PGTune, per workload type.
MAX_CONNECTIONS_DEFAULT = {"web": 200, "oltp": 300, "dw": 40, "mixed": 100, "desktop": 20}
WAL_SIZES = {"web": (1 * GB, 4 * GB), "oltp": (2 * GB, 8 * GB), "dw": (4 * GB, 16 * GB),
             "mixed": (1 * GB, 4 * GB), "desktop": (100 * MB, 2 * GB)}
WORK_MEM_DIVISOR = {"web": 1, "oltp": 1, "dw": 2, "mixed": 2, "desktop": 6}
IO_CONCURRENCY = {"hdd": 2, "ssd": 200, "san": 300, "nvme": 1000}

# Settings an app can set for its own sessions (Postgrex `parameters:`), so the fix can live in
# the repo's config next to the code that needs it.
SESSION_SETTINGS = {"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "work_mem"}


# ---- the machine ---------------------------------------------------------------------------------

@dataclass
class Machine:
    cores: int | None = None
    memory_bytes: int | None = None
    storage: str | None = None  # ssd, hdd, nvme or san
    source: dict[str, str] = field(default_factory=dict)  # field -> "flag", "host" or "guess: ..."

    @property
    def known(self) -> bool:
        return self.memory_bytes is not None

    def describe(self) -> str:
        parts = []
        if self.cores:
            parts.append(f"{self.cores} cores ({self.source.get('cores', '?')})")
        if self.memory_bytes:
            parts.append(f"{human_bytes(self.memory_bytes)} RAM ({self.source.get('memory', '?')})")
        if self.storage:
            parts.append(f"{self.storage.upper()} ({self.source.get('storage', '?')})")
        return ", ".join(parts) or "unknown (pass --cores, --memory and --storage)"

    def as_json(self) -> dict[str, Any]:
        return {"cores": self.cores, "memory_bytes": self.memory_bytes, "storage": self.storage,
                "source": dict(self.source)}


def parse_memory(text: str | int | float | None) -> int | None:
    """'16GB', '16G', '512MB', '16' (GB) -> bytes."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return int(text * GB)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?[bB]?)?\s*", str(text))
    if not m:
        raise InputError(f"invalid memory size {text!r}: use a number with a unit, such as 16GB or 512MB")
    unit = (m.group(2) or "G")[0].upper()
    return int(float(m.group(1)) * {"K": KB, "M": MB, "G": GB, "T": GB * 1024}[unit])


def machine_from_flags(cores: int | None = None, memory: str | int | None = None,
                       storage: str | None = None) -> Machine:
    machine = Machine()
    if cores is not None:
        if cores < 1:
            raise InputError("--cores must be at least 1")
        machine.cores, machine.source["cores"] = int(cores), "flag"
    mem = parse_memory(memory)
    if mem is not None:
        machine.memory_bytes, machine.source["memory"] = mem, "flag"
    if storage:
        storage = storage.lower()
        if storage not in STORAGE:
            raise InputError(f"invalid storage {storage!r}: use one of {', '.join(STORAGE)}")
        machine.storage, machine.source["storage"] = storage, "flag"
    return machine


def is_local(url: str | None, data_directory: str | None) -> bool:
    """The server runs on this host: a loopback or socket address, and its data directory is here."""
    if not data_directory or not os.path.isdir(data_directory):
        return False
    host = ""
    if url and "://" in url:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return False
    elif url:
        m = re.search(r"\bhost\s*=\s*(\S+)", url)
        host = m.group(1) if m else ""
    return host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")


def detect_host(data_directory: str | None) -> Machine:
    """Cores without hyper-threads, memory within any cgroup limit, and the data disk's type."""
    machine = Machine()
    cores = _physical_cores()
    if cores:
        machine.cores, machine.source["cores"] = cores, "host"
    mem = _memory_bytes()
    if mem:
        machine.memory_bytes, machine.source["memory"] = mem, "host"
    storage, how = _storage(data_directory)
    if storage:
        machine.storage, machine.source["storage"] = storage, how
    return machine


def merge(flags: Machine, host: Machine | None) -> Machine:
    """Flags win over what the host says."""
    if host is None:
        return flags
    merged = Machine(source={})
    for name, key in (("cores", "cores"), ("memory_bytes", "memory"), ("storage", "storage")):
        value = getattr(flags, name)
        if value is None:
            value = getattr(host, name)
            if value is not None:
                merged.source[key] = host.source.get(key, "host")
        else:
            merged.source[key] = flags.source.get(key, "flag")
        setattr(merged, name, value)
    return merged


def _physical_cores() -> int | None:
    try:
        logical = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        logical = os.cpu_count() or 0
    physical = None
    try:
        pairs, current = set(), {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                if "core id" in current:
                    pairs.add((current.get("physical id"), current["core id"]))
                current = {}
                continue
            key, _, val = line.partition(":")
            current[key.strip()] = val.strip()
        if "core id" in current:
            pairs.add((current.get("physical id"), current["core id"]))
        physical = len(pairs) or None
    except OSError:
        pass
    quota = None
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            quota = max(1, math.ceil(int(text[0]) / int(text[1])))
    except (OSError, ValueError, IndexError):
        pass
    # Hyper-threads do not add connection throughput (HikariCP's pool-sizing note), so the count
    # is physical cores, limited by what this process may use.
    candidates = [c for c in (physical, logical or None, quota) if c]
    return min(candidates) if candidates else None


def _memory_bytes() -> int | None:
    total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * KB
                break
    except (OSError, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit() and (total is None or int(limit) < total):
            total = int(limit)
    except OSError:
        pass
    return total


def _storage(data_directory: str | None) -> tuple[str | None, str]:
    if data_directory:
        try:
            dev = os.stat(data_directory).st_dev
            major, minor = os.major(dev), os.minor(dev)
            sys_dev = Path(f"/sys/dev/block/{major}:{minor}")
            if major != 0 and sys_dev.exists():
                real = sys_dev.resolve()
                disk = real.parent if (real / "partition").exists() else real
                kind = _disk_kind(disk)
                if kind:
                    return kind, f"host ({disk.name})"
        except OSError:
            pass
    # Overlay and network filesystems hide the device; every local disk being non-rotational is
    # a fair guess, and it is labelled as one.
    kinds = set()
    for queue in Path("/sys/block").glob("*/queue/rotational"):
        name = queue.parent.parent.name
        if name.startswith(("loop", "ram", "zram", "sr", "fd")):
            continue
        kind = _disk_kind(queue.parent.parent)
        if kind:
            kinds.add(kind)
    if kinds == {"hdd"}:
        return "hdd", "guess: every disk on this host is rotational"
    if kinds and "hdd" not in kinds:
        return ("nvme" if kinds == {"nvme"} else "ssd"), "guess: every disk on this host is solid-state"
    return None, ""


def _disk_kind(disk: Path) -> str | None:
    try:
        rotational = (disk / "queue" / "rotational").read_text().strip()
    except OSError:
        return None
    if rotational == "1":
        return "hdd"
    return "nvme" if disk.name.startswith("nvme") else "ssd"


# ---- PGTune -------------------------------------------------------------------------------------

@dataclass
class Recommendation:
    name: str
    value: float  # in the unit compared: bytes for memory, plain number otherwise
    text: str  # as postgresql.conf spells it
    reason: str


def conf_memory(n_bytes: float) -> str:
    kb = n_bytes / KB
    if kb >= 1024 * 1024 and kb % (1024 * 1024) == 0:
        return f"{int(kb // (1024 * 1024))}GB"
    if kb >= 1024:
        return f"{int(kb // 1024)}MB"
    return f"{int(kb)}kB"


def pgtune(machine: Machine, workload: str = "web", *, max_connections: int | None = None,
           db_size_bytes: int | None = None, version_num: int = 150000) -> dict[str, Recommendation]:
    """PGTune's settings for this machine and workload; memory-based ones need the memory."""
    if workload not in WORKLOADS:
        raise InputError(f"invalid workload {workload!r}: use one of {', '.join(WORKLOADS)}")
    recs: dict[str, Recommendation] = {}

    def add(name: str, value: float, text: str, reason: str) -> None:
        recs[name] = Recommendation(name, value, text, reason)

    connections = max_connections or MAX_CONNECTIONS_DEFAULT[workload]
    cores = machine.cores
    ram = machine.memory_bytes
    if ram:
        ram_text = human_bytes(ram)
        shared = ram / 16 if workload == "desktop" else ram / 4
        add("shared_buffers", _kb_floor(shared), conf_memory(_kb_floor(shared)),
            f"RAM/{16 if workload == 'desktop' else 4} of {ram_text}")
        cache = ram / 4 if workload == "desktop" else ram * 3 / 4
        add("effective_cache_size", _kb_floor(cache), conf_memory(_kb_floor(cache)),
            f"{'RAM/4' if workload == 'desktop' else '3/4 of RAM'} ({ram_text})")
        maint = min(ram / (8 if workload == "dw" else 16), 8 * GB)
        add("maintenance_work_mem", _kb_floor(maint), conf_memory(_kb_floor(maint)),
            f"RAM/{8 if workload == 'dw' else 16}, at most 8GB")
        workers = cores if cores and cores >= 4 else 8
        work = (ram - _kb_floor(shared)) / ((connections + workers) * 3) / WORK_MEM_DIVISOR[workload]
        factor_note = ""
        if db_size_bytes is not None:
            factor = 1.3 if db_size_bytes < ram else 0.9
            work *= factor
            factor_note = f", x{factor} as the data is {'smaller' if factor > 1 else 'larger'} than RAM"
        work = max(_kb_floor(work), 4 * MB)
        add("work_mem", work, conf_memory(work),
            f"(RAM - shared_buffers) / ((max_connections {connections} + {workers} workers) x 3)"
            f"{' / ' + str(WORK_MEM_DIVISOR[workload]) if WORK_MEM_DIVISOR[workload] > 1 else ''}{factor_note}, "
            "at least 4MB")
        wal = _kb_floor(shared) * 0.03
        wal = min(wal, 16 * MB)
        if wal > 14 * MB:
            wal = 16 * MB
        wal = max(wal, 32 * KB)
        add("wal_buffers", _kb_floor(wal), conf_memory(_kb_floor(wal)), "3% of shared_buffers, at most 16MB")
    low, high = WAL_SIZES[workload]
    add("min_wal_size", low, conf_memory(low), f"PGTune for {workload}")
    add("max_wal_size", high, conf_memory(high), f"PGTune for {workload}")
    add("checkpoint_completion_target", 0.9, "0.9", "PGTune (PostgreSQL's own default since 14)")
    stats = 500 if workload == "dw" else 100
    add("default_statistics_target", stats, str(stats), f"PGTune for {workload}")
    if machine.storage:
        if ram and db_size_bytes is not None and db_size_bytes < ram:
            add("random_page_cost", 1.1, "1.1", "the data fits in RAM, so random reads cost about what sequential ones do")
        elif machine.storage == "hdd" or workload == "dw":
            add("random_page_cost", 4.0, "4", f"{machine.storage.upper()}: random reads really are slower")
        else:
            add("random_page_cost", 1.1, "1.1", f"{machine.storage.upper()}: random reads cost about what sequential ones do")
        io = IO_CONCURRENCY[machine.storage]
        add("effective_io_concurrency", io, str(io), f"{machine.storage.upper()} on Linux")
    if cores and cores >= 4:
        half = math.ceil(cores / 2)
        add("max_worker_processes", cores, str(cores), f"{cores} cores")
        per_gather = half if workload == "dw" else min(half, 4)
        add("max_parallel_workers_per_gather", per_gather, str(per_gather), "half the cores, at most 4")
        add("max_parallel_workers", cores, str(cores), f"{cores} cores")
        maint_workers = min(half, 4)
        add("max_parallel_maintenance_workers", maint_workers, str(maint_workers), "half the cores, at most 4")
    if workload in ("web", "oltp", "mixed") and version_num >= 120000:
        add("jit", 0, "off", "JIT compiles for long analytical queries; short app queries pay its cost")
    return recs


def _kb_floor(n: float) -> float:
    return math.floor(n / KB) * KB


# ---- comparing -----------------------------------------------------------------------------------

MEMORY_SETTINGS = ("shared_buffers", "effective_cache_size", "maintenance_work_mem", "work_mem",
                   "min_wal_size", "max_wal_size")
WARN_SETTINGS = {"shared_buffers", "work_mem", "effective_cache_size", "random_page_cost"}


def actual_value(env: Env, name: str) -> float | None:
    if name in MEMORY_SETTINGS or name == "wal_buffers":
        return env.setting_bytes(name)
    if name == "jit":
        return 1.0 if env.setting("jit") == "on" else 0.0 if env.setting("jit") == "off" else None
    return env.setting_float(name)


def shown(env: Env, name: str) -> str:
    value = actual_value(env, name)
    if value is None:
        return "?"
    if name in MEMORY_SETTINGS or name == "wal_buffers":
        return conf_memory(value) if value >= 0 else str(int(value))
    if name == "jit":
        return env.setting("jit") or "?"
    return env.setting(name) or "?"


def compare(env: Env, recs: dict[str, Recommendation]) -> list[Finding]:
    """Settings off PGTune's value by more than a factor of two (memory, I/O), or different where
    the value is a choice (random_page_cost, parallel workers, jit)."""
    findings = []
    for name, rec in recs.items():
        actual = actual_value(env, name)
        if actual is None or name == "wal_buffers":
            continue  # left at -1, wal_buffers follows shared_buffers by itself
        off = False
        if name in MEMORY_SETTINGS or name in ("effective_io_concurrency", "wal_buffers"):
            off = actual < rec.value / 2 or (actual > rec.value * 2 and name not in ("max_wal_size", "min_wal_size"))
        elif name == "default_statistics_target":
            off = actual < rec.value
        elif name == "checkpoint_completion_target":
            off = actual < rec.value - 0.01
        elif name == "random_page_cost":
            off = abs(actual - rec.value) >= 0.5
        elif name in ("max_worker_processes", "max_parallel_workers", "max_parallel_workers_per_gather",
                      "max_parallel_maintenance_workers"):
            off = actual < rec.value
        elif name == "jit":
            off = actual != rec.value
        if not off:
            continue
        direction = "low" if actual < rec.value else "high"
        severity = "warning" if name in WARN_SETTINGS else "info"
        message = (f"{name} is {shown(env, name)}; PGTune suggests {rec.text} for this machine "
                   f"({rec.reason}) with a {env.workload} workload")
        if name == "work_mem" and direction == "high":
            message += ": every sort or hash of every connection may take this much"
        findings.append(setting_finding(env, name, rec.text, severity, message,
                                        {"actual": shown(env, name), "suggested": rec.text, "reason": rec.reason,
                                         "source": "PGTune", "machine": env.machine.describe() if env.machine else None,
                                         "workload": env.workload}))
    return findings


def memory_worst_case(env: Env) -> Finding | None:
    """postgresqltuner: shared_buffers + max_connections x work_mem x 150 % + autovacuum workers x
    maintenance_work_mem; bad above RAM, a warning above 80 % of it."""
    machine = env.machine
    ram = machine.memory_bytes if machine else None
    shared, work = env.setting_bytes("shared_buffers"), env.setting_bytes("work_mem")
    maint = env.setting_bytes("autovacuum_work_mem")
    if maint is None or maint < 0:
        maint = env.setting_bytes("maintenance_work_mem")
    conns, workers = env.setting_float("max_connections"), env.setting_float("autovacuum_max_workers")
    if not ram or None in (shared, work, maint, conns, workers):
        return None
    worst = shared + conns * work * 1.5 + workers * maint
    if worst <= ram * 0.8:
        return None
    severity = "error" if worst > ram else "warning"
    lower = max(4 * MB, (ram * 0.8 - shared - workers * maint) / (conns * 1.5))
    return setting_finding(
        env, "work_mem", conf_memory(_kb_floor(lower)), severity,
        f"in the worst case the server would use {human_bytes(worst)}, "
        f"{worst / ram:.0%} of the {human_bytes(ram)} RAM: the OOM killer ends that",
        {"formula": "shared_buffers + max_connections x work_mem x 1.5 + autovacuum_max_workers x maintenance_work_mem",
         "shared_buffers": human_bytes(shared), "max_connections": int(conns), "work_mem": human_bytes(work),
         "autovacuum_max_workers": int(workers), "maintenance_work_mem": human_bytes(maint),
         "worst_case": human_bytes(worst), "ram": human_bytes(ram), "source": "postgresqltuner"},
        object_name="memory (worst case)")


def pitfalls(env: Env) -> list[Finding]:
    """The settings people forget: left at a default that fits no production server, or a
    safety net (timeouts, slow-query log) left off."""
    out: list[Finding] = []
    machine = env.machine
    known_memory = bool(machine and machine.memory_bytes)

    def at(name: str, value: str) -> bool:
        return env.setting(name) == value

    if env.setting_bytes("work_mem") == 4 * MB:
        out.append(setting_finding(
            env, "work_mem", "16MB" if not known_memory else None, "info",
            "work_mem is at its 4MB default: sorts and hashes of a few MB spill to disk",
            {"actual": "4MB", "source": "pg-index-health ImportantParam, ruby-pg-extras diagnose"}))
    rpc = env.setting_float("random_page_cost")
    storage = machine.storage if machine else None
    if rpc == 4.0 and storage in ("ssd", "nvme", "san"):
        out.append(setting_finding(
            env, "random_page_cost", "1.1", "warning",
            f"random_page_cost is 4 on {storage.upper()} storage: the planner overprices index scans "
            "and picks sequential scans that an SSD does not need",
            {"actual": "4", "storage": storage, "source": "ruby-pg-extras diagnose, PGTune"}))
    elif rpc == 4.0 and storage is None:
        out.append(setting_finding(
            env, "random_page_cost", "1.1", "info",
            "random_page_cost is at its default of 4, priced for spinning disks; on SSD (most servers "
            "today) 1.1 lets the planner use indexes it now avoids",
            {"actual": "4", "storage": "unknown", "source": "ruby-pg-extras diagnose"}))
    if env.setting_ms("statement_timeout") == 0:
        out.append(setting_finding(
            env, "statement_timeout", "15s", "warning",
            "statement_timeout is 0: a query Ecto has given up on (its :timeout, 15 s by default) keeps "
            "running on the server and holding its locks",
            {"actual": "0", "source": "pg-index-health ImportantParam"}))
    if env.setting_ms("lock_timeout") == 0:
        out.append(setting_finding(
            env, "lock_timeout", "10s", "info",
            "lock_timeout is 0: a statement waiting for a lock (a migration behind a long transaction) "
            "waits forever, and every query queued behind it waits too",
            {"actual": "0", "source": "pg-index-health ImportantParam; strong_migrations suggests 10 s"}))
    if env.setting_ms("idle_in_transaction_session_timeout") == 0:
        out.append(setting_finding(
            env, "idle_in_transaction_session_timeout", "60s", "warning",
            "idle_in_transaction_session_timeout is 0: a transaction left open (a crash between "
            "Repo.transaction's statements, a slow HTTP call inside one) holds its locks and vacuum's horizon",
            {"actual": "0", "source": "pg-index-health ImportantParam"}))
    if env.setting("log_min_duration_statement") == "-1":
        out.append(setting_finding(
            env, "log_min_duration_statement", "1000", "warning",
            "log_min_duration_statement is -1: slow queries are not logged, so a slow request leaves no trace "
            "in the server log",
            {"actual": "-1", "source": "pg-index-health ImportantParam, postgresqltuner"}))
    if not known_memory:
        if env.setting_bytes("shared_buffers") == 128 * MB:
            out.append(setting_finding(
                env, "shared_buffers", None, "warning",
                "shared_buffers is at its 128MB default; PGTune suggests a quarter of the RAM "
                "(pass --memory to compute it)",
                {"actual": "128MB", "source": "pg-index-health ImportantParam, PGTune"}))
        if env.setting_bytes("maintenance_work_mem") == 64 * MB:
            out.append(setting_finding(
                env, "maintenance_work_mem", None, "info",
                "maintenance_work_mem is at its 64MB default: index builds and vacuums run in small "
                "batches (PGTune: RAM/16)",
                {"actual": "64MB", "source": "pg-index-health ImportantParam, postgresqltuner"}))
        if env.setting_bytes("effective_cache_size") == 4 * GB:
            out.append(setting_finding(
                env, "effective_cache_size", None, "info",
                "effective_cache_size is at its 4GB default; it should be about 3/4 of the RAM "
                "(pass --memory to compute it)",
                {"actual": "4GB", "source": "pg-index-health ImportantParam, PGTune"}))
    if at("fsync", "off"):
        out.append(setting_finding(
            env, "fsync", "on", "error",
            "fsync is off: a power loss or OS crash can corrupt the database beyond repair",
            {"actual": "off", "source": "postgresqltuner"}))
    if at("track_counts", "off"):
        out.append(setting_finding(
            env, "track_counts", "on", "error",
            "track_counts is off: autovacuum cannot tell which tables need it, and every usage statistic is empty",
            {"actual": "off", "source": "PostgreSQL docs, Routine Vacuuming"}))
    # Only the enable_* flags that are on out of the box: partitionwise joins are off by design.
    disabled = sorted(n for n in env.settings if n.startswith("enable_") and env.setting(n) == "off"
                      and env.boot_values.get(n, "on") == "on")
    for name in disabled:
        out.append(setting_finding(
            env, name, "on", "warning",
            f"{name} is off server-wide: the planner cannot choose that plan shape for any query",
            {"actual": "off", "source": "postgresqltuner"}))
    return out


def setting_finding(env: Env, name: str, suggested: str | None, severity: str, message: str,
                    evidence: dict[str, Any], *, object_name: str | None = None) -> Finding:
    context = env.contexts.get(name)
    return Finding(check="config", severity=severity, object=object_name or f"setting {name}", message=message,
                   evidence=evidence, fix=setting_fix(name, suggested, context))


def setting_fix(name: str, suggested: str | None, context: str | None) -> HealthFix:
    if suggested is None:
        return HealthFix(action=f"pass --memory (and --cores, --storage) so PGTune can size {name} for the machine")
    conf_value = suggested if re.fullmatch(r"[\w.]+", suggested) else f"'{suggested}'"
    restart = context == "postmaster"
    config = f"{name} = {conf_value}" + ("    # needs a restart" if restart else "")
    sql = f"ALTER SYSTEM SET {name} = '{suggested}';\n" + (
        "-- then restart the server" if restart else "SELECT pg_reload_conf();")
    ecto = None
    if name in SESSION_SETTINGS:
        ecto = (f"# config/runtime.exs: the app's connections set it when they connect.\n"
                f"config :{APP_ATOM}, {APP_MODULE}.Repo,\n"
                f"  parameters: [{name}: {elixir_string(_ecto_setting_value(name, suggested))}]")
        if name == "statement_timeout":
            ecto += ("\n# mix ecto.migrate reads the same config: give long concurrent index builds room, e.g.\n"
                     "# parameters: [statement_timeout: System.get_env(\"DB_STATEMENT_TIMEOUT\", \"15s\")]")
        if name == "lock_timeout":
            ecto += ("\n# and in migrations that take locks (runs in the migration's transaction):\n"
                     "# def after_begin,\n"
                     "#   do: execute(\"SET LOCAL lock_timeout TO '5s'\", \"SET LOCAL lock_timeout TO '10s'\")")
    return HealthFix(config=config, sql=sql, ecto=ecto)


def _ecto_setting_value(name: str, value: str) -> str:
    if name.endswith("timeout") and value.isdigit():
        return f"{value}ms"
    return value
