"""PGTune's formulas, the pitfalls, the machine read from flags or the host, and pool sizing."""

from __future__ import annotations

import os

import psycopg
import pytest

from tools.errors import InputError
from tools.health import config as cfg
from tools.health.config import Machine, machine_from_flags, parse_memory, pgtune
from tools.health.model import Env
from tools.health.pool import PoolConfig, Server, advise, read_pool_config

GB = 1 << 30
MB = 1 << 20
KB = 1024


def test_parse_memory():
    assert parse_memory("16GB") == 16 * GB
    assert parse_memory("512MB") == 512 * MB
    assert parse_memory("16g") == 16 * GB
    assert parse_memory("1.5GiB") == int(1.5 * GB)
    assert parse_memory("8") == 8 * GB
    assert parse_memory(None) is None
    with pytest.raises(InputError, match="invalid memory size"):
        parse_memory("lots")


def test_machine_flags_are_validated():
    m = machine_from_flags(cores=8, memory="32GB", storage="NVMe")
    assert (m.cores, m.memory_bytes, m.storage) == (8, 32 * GB, "nvme")
    assert m.source == {"cores": "flag", "memory": "flag", "storage": "flag"}
    with pytest.raises(InputError):
        machine_from_flags(cores=0)
    with pytest.raises(InputError):
        machine_from_flags(storage="tape")


def test_pgtune_web_16gb_4_cores_ssd():
    """PGTune's numbers for 16 GB, 4 CPUs, 100 connections, SSD, web (without the DB-size factor)."""
    recs = pgtune(Machine(cores=4, memory_bytes=16 * GB, storage="ssd"), "web", max_connections=100)
    assert recs["shared_buffers"].value == 4 * GB and recs["shared_buffers"].text == "4GB"
    assert recs["effective_cache_size"].value == 12 * GB
    assert recs["maintenance_work_mem"].value == 1 * GB
    # (16 GB - 4 GB) / ((100 + 4) x 3) = 40329 kB, floored to whole kB
    assert recs["work_mem"].value == 40329 * KB
    assert recs["wal_buffers"].value == 16 * MB
    assert (recs["min_wal_size"].value, recs["max_wal_size"].value) == (1 * GB, 4 * GB)
    assert recs["random_page_cost"].value == 1.1
    assert recs["effective_io_concurrency"].value == 200
    assert recs["max_worker_processes"].value == 4
    assert recs["max_parallel_workers_per_gather"].value == 2
    assert recs["max_parallel_maintenance_workers"].value == 2
    assert recs["jit"].text == "off"
    assert recs["checkpoint_completion_target"].value == 0.9
    assert recs["default_statistics_target"].value == 100


def test_pgtune_workload_types_and_caps():
    big = Machine(cores=64, memory_bytes=256 * GB, storage="hdd")
    dw = pgtune(big, "dw", max_connections=40)
    assert dw["maintenance_work_mem"].value == 8 * GB  # capped
    assert dw["default_statistics_target"].value == 500
    assert dw["max_parallel_workers_per_gather"].value == 32  # dw is not capped at 4
    assert dw["random_page_cost"].value == 4.0 and dw["effective_io_concurrency"].value == 2
    assert "jit" not in dw
    web = pgtune(big, "web", max_connections=200)
    assert web["max_parallel_workers_per_gather"].value == 4
    desktop = pgtune(Machine(memory_bytes=16 * GB), "desktop", max_connections=20)
    assert desktop["shared_buffers"].value == 1 * GB and desktop["effective_cache_size"].value == 4 * GB
    # work_mem: divided by the type's divisor, then x1.3 when the data fits in RAM, at least 4MB
    mixed = pgtune(Machine(cores=4, memory_bytes=16 * GB), "mixed", max_connections=100, db_size_bytes=GB)
    assert mixed["work_mem"].value == pytest.approx(40329 * KB / 2 * 1.3, rel=0.001)
    tiny = pgtune(Machine(memory_bytes=1 * GB), "web", max_connections=500)
    assert tiny["work_mem"].value == 4 * MB
    small_cores = pgtune(Machine(cores=2, memory_bytes=8 * GB), "web")
    assert "max_worker_processes" not in small_cores  # PGTune sets parallel settings from 4 CPUs
    with pytest.raises(InputError):
        pgtune(Machine(), "batch")


def test_random_page_cost_follows_the_data_size():
    ssd = Machine(memory_bytes=8 * GB, storage="hdd")
    assert pgtune(ssd, "web", db_size_bytes=1 * GB)["random_page_cost"].value == 1.1  # fits in RAM
    assert pgtune(ssd, "web", db_size_bytes=100 * GB)["random_page_cost"].value == 4.0


def _env(**settings) -> Env:
    base = {"work_mem": ("4096", "kB"), "random_page_cost": ("4", None), "statement_timeout": ("0", "ms"),
            "lock_timeout": ("0", "ms"), "idle_in_transaction_session_timeout": ("0", "ms"),
            "log_min_duration_statement": ("-1", "ms"), "shared_buffers": ("16384", "8kB"),
            "maintenance_work_mem": ("65536", "kB"), "effective_cache_size": ("524288", "8kB"),
            "max_connections": ("100", None), "autovacuum_max_workers": ("3", None),
            "autovacuum_work_mem": ("-1", "kB"), "fsync": ("on", None), "enable_seqscan": ("on", None),
            "enable_partitionwise_join": ("off", None)}
    base.update(settings)
    return Env(settings=base, boot_values={"enable_partitionwise_join": "off", "enable_seqscan": "on",
                                           "enable_nestloop": "on"},
               contexts={"statement_timeout": "user", "shared_buffers": "postmaster"})


def test_pitfalls_on_an_untuned_server():
    found = {f.object: f for f in cfg.pitfalls(_env())}
    assert {"setting work_mem", "setting random_page_cost", "setting statement_timeout", "setting lock_timeout",
            "setting idle_in_transaction_session_timeout", "setting log_min_duration_statement",
            "setting shared_buffers", "setting maintenance_work_mem", "setting effective_cache_size"} <= set(found)
    assert "setting enable_partitionwise_join" not in found  # off by design
    timeout = found["setting statement_timeout"]
    assert timeout.severity == "warning"
    assert "parameters: [statement_timeout: \"15s\"]" in timeout.fix.ecto
    assert timeout.fix.config == "statement_timeout = 15s"
    assert "ALTER SYSTEM SET statement_timeout = '15s'" in timeout.fix.sql
    # restart-only settings say so
    shared = cfg.setting_fix("shared_buffers", "4GB", "postmaster")
    assert "needs a restart" in shared.config and "restart the server" in shared.sql and shared.ecto is None


def test_pitfalls_know_the_storage():
    env = _env()
    env.machine = Machine(storage="ssd", source={"storage": "flag"})
    rpc = {f.object: f for f in cfg.pitfalls(env)}["setting random_page_cost"]
    assert rpc.severity == "warning" and "SSD" in rpc.message and rpc.fix.config == "random_page_cost = 1.1"
    env.machine = Machine(storage="hdd")
    assert "setting random_page_cost" not in {f.object for f in cfg.pitfalls(env)}


def test_off_switches_and_disabled_plans():
    env = _env(fsync=("off", None), enable_nestloop=("off", None))
    found = {f.object: f for f in cfg.pitfalls(env)}
    assert found["setting fsync"].severity == "error"
    assert found["setting enable_nestloop"].severity == "warning"


def test_memory_worst_case():
    env = _env(work_mem=("262144", "kB"), shared_buffers=("524288", "8kB"), max_connections=("200", None))
    env.machine = Machine(memory_bytes=16 * GB)
    f = cfg.memory_worst_case(env)
    # 4 GB + 200 x 256 MB x 1.5 + 3 x 64 MB = 79 GB on a 16 GB machine
    assert f is not None and f.severity == "error" and f.object == "memory (worst case)"
    assert f.evidence["worst_case"].startswith("79")
    env = _env(work_mem=("16384", "kB"), shared_buffers=("524288", "8kB"))
    env.machine = Machine(memory_bytes=16 * GB)
    assert cfg.memory_worst_case(env) is None


def test_compare_flags_only_what_is_off():
    env = _env(shared_buffers=("524288", "8kB"), work_mem=("2097152", "kB"))
    env.machine = Machine(cores=4, memory_bytes=16 * GB, storage="ssd")
    recs = pgtune(env.machine, "web", max_connections=100)
    found = {f.object: f for f in cfg.compare(env, recs)}
    assert "setting shared_buffers" not in found  # exactly PGTune's value
    work = found["setting work_mem"]  # 2GB against about 39MB
    assert "every sort or hash" in work.message and work.evidence["suggested"] == "39MB"


def test_host_machine_is_read_when_local(pg_server):
    with psycopg.connect(pg_server.url()) as conn:
        data_directory = conn.execute("SHOW data_directory").fetchone()[0]
    assert cfg.is_local(pg_server.url(), data_directory)
    assert not cfg.is_local("postgresql://u@db.example.com/app", data_directory)
    assert not cfg.is_local(pg_server.url(), "/nonexistent/data")
    host = cfg.detect_host(data_directory)
    assert host.cores and host.cores <= (os.cpu_count() or 1)
    assert host.memory_bytes and host.memory_bytes > 64 * MB
    assert host.source["cores"] == "host"
    merged = cfg.merge(machine_from_flags(cores=32), host)
    assert merged.cores == 32 and merged.source["cores"] == "flag" and merged.memory_bytes == host.memory_bytes


# ---- pool sizing --------------------------------------------------------------------------------

DEV = """import Config
config :shop, Shop.Repo, username: "postgres", database: "shop_dev", pool_size: 10
"""
RUNTIME = """import Config
if config_env() == :prod do
  config :shop, Shop.Repo,
    url: System.get_env("DATABASE_URL"),
    pool_size: String.to_integer(System.get_env("POOL_SIZE") || "40"),
    pool_count: 2,
    queue_target: 100
end
"""


def test_read_pool_config_prefers_production_and_reads_env_defaults(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.exs").write_text(DEV)
    (tmp_path / "config" / "runtime.exs").write_text(RUNTIME)
    pool = read_pool_config(tmp_path)
    assert pool.get("pool_size") == 40 and pool.get("pool_count") == 2 and pool.get("queue_target") == 100
    assert pool.get("queue_interval") == 2000
    assert pool.where("pool_size") == "config/runtime.exs, $POOL_SIZE or 40"
    assert pool.where("queue_interval") == "Ecto's default"
    assert pool.repo == "Shop.Repo" and pool.app == ":shop"
    assert read_pool_config(tmp_path / "nowhere") is None


def test_pool_over_the_servers_limit():
    pool = PoolConfig(values={"pool_size": 40, "pool_count": 2})
    advice = advise(pool, Server(max_connections=100, reserved=3, connections=10, cores=4, storage="ssd"),
                    app_nodes=2)
    assert advice.total == 160 and advice.usable == 97 and advice.best == 8
    (severity, kind, message), = advice.verdicts
    assert severity == "error" and kind == "over"
    assert advice.suggested_pool_size == 21  # 97 x 0.9 / (2 nodes x 2 pools)
    text = "\n".join(advice.reasoning)
    assert "pool_size 40" in text and "x 2 app nodes" in text and "max_connections 100 - 3 reserved = 97" in text
    assert "(cores x 2) + 0 spindles = 8" in text


def test_pool_far_above_what_the_cores_keep_busy():
    advice = advise(PoolConfig(values={"pool_size": 30}), Server(100, 3, 5, cores=4, storage="hdd"))
    assert advice.best == 9  # 4 x 2 + 1 spindle
    assert [v[:2] for v in advice.verdicts] == [("info", "oversized")]
    assert "PgBouncer" in advice.verdicts[0][2] and "prepare: :unnamed" in advice.verdicts[0][2]


def test_pool_that_fits():
    advice = advise(PoolConfig(), Server(100, 3, 5, cores=8, storage="ssd"))
    assert advice.verdicts == [] and advice.total == 10


def test_connections_nearly_used_up():
    advice = advise(PoolConfig(), Server(100, 3, 75, cores=None, storage=None))
    assert [v[:2] for v in advice.verdicts] == [("warning", "busy")]
    assert "cores are unknown" in "\n".join(advice.reasoning)
