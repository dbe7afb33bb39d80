"""Every health check's documented examples, run as tests.

`setup` examples build the condition in a fresh database of the real test server (second
connections hold locks or transactions open where the check is about other sessions) and run
the check through the runner exactly as `ecto-optimizer health` does; `data` examples feed the
check's judgement directly, for conditions a test cannot build (an XID age of 700 million).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pglast
import pytest

from tools.health.checks import CHECKS, catalogue
from tools.health.config import machine_from_flags
from tools.health.model import Env, Example, Finding, Thresholds
from tools.health.runner import run_health

REQUIRED_IDS = [
    "unused-index", "duplicate-index", "invalid-index", "fk-without-index", "table-without-pk", "index-bloat",
    "table-bloat", "cache-hit", "sequence-overflow", "xid-wraparound", "autovacuum", "long-running",
    "idle-in-transaction", "blocking-locks", "seq-scan-heavy", "json-column", "stale-stats",
    "pg-stat-statements-missing", "config", "pool-size",
]

EXAMPLES = [pytest.param(c, i, ex, id=f"{c.id}-{i}{'-db' if ex.data is None else ''}")
            for c in CHECKS for i, ex in enumerate(c.examples)]


def test_the_catalogue_has_exactly_the_checks_the_issue_names():
    assert [c.id for c in CHECKS] == REQUIRED_IDS


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_check_is_documented_with_examples_both_ways(check):
    doc = check.doc()
    for key in ("title", "what", "why", "threshold", "fix", "notes"):
        assert doc[key].strip(), f"{check.id} has no {key}"
    assert any(ex.fires for ex in check.examples) and any(not ex.fires for ex in check.examples), check.id
    # every threshold names where it comes from
    assert "(" in doc["threshold"], check.id


def test_catalogue_is_serialisable():
    import json

    assert len(json.loads(json.dumps(catalogue()))) == len(REQUIRED_IDS)


def test_every_threshold_has_a_source():
    for name, (default, source) in Thresholds.sources().items():
        assert source, name


def _fix_text(f: Finding) -> str:
    return "\n".join(x for x in (f.fix.ecto, f.fix.sql, f.fix.config, f.fix.action) if x)


def _judge(check, example: Example, findings: list[Finding]) -> None:
    mine = [f for f in findings if f.check == check.id]
    if not example.fires:
        assert not mine, f"{check.id} should not fire ({example.note}): {[f.message for f in mine]}"
        return
    assert mine, f"{check.id} should fire ({example.note})"
    target = mine[0]
    if example.object is not None:
        named = [f for f in mine if f.object == example.object]
        assert named, f"no {check.id} finding on {example.object}: {[f.object for f in mine]}"
        target = named[0]
    if example.severity is not None:
        assert target.severity == example.severity, target
    text = _fix_text(target)
    for needle in example.fix_has:
        assert needle in text, f"{needle!r} not in the fix:\n{text}"
    assert target.message and target.evidence
    for f in mine:  # every finding says what to do about it
        assert _fix_text(f).strip(), f


def _split(sql: str) -> list[str]:
    return list(pglast.split(sql)) if sql.strip() else []


def _wait_for(url: str, sql: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute(sql).fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {sql}")


def run_db_example(check, example: Example, url: str, tmp_path: Path) -> list[Finding]:
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in _split(example.setup):
            conn.execute(stmt)
            # Flush this statement's counts now, as a server would within a second: otherwise an
            # INSERT's counts could land after a later ANALYZE and look like changes since it.
            conn.execute("SELECT pg_stat_force_next_flush()")
        for stmt in example.failing:
            with pytest.raises(psycopg.Error):
                conn.execute(stmt)
        # Statistics are flushed when a session goes idle after this; the next call waits for it.
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
    holders: list[psycopg.Connection] = []
    waiters: list[tuple[psycopg.Connection, threading.Thread]] = []
    try:
        for stmt in example.hold:
            c = psycopg.connect(url, application_name="health-test-holder")
            c.execute(stmt)
            holders.append(c)
        for stmt in example.wait:
            c = psycopg.connect(url, autocommit=True, application_name="health-test-waiter")

            def work(conn=c, stmt=stmt):
                try:
                    conn.execute(stmt)
                except psycopg.Error:
                    pass  # cancelled at the end of the test

            t = threading.Thread(target=work, daemon=True)
            t.start()
            waiters.append((c, t))
        if example.wait:
            _wait_for(url, "SELECT count(*) >= %d FROM pg_stat_activity WHERE application_name = "
                           "'health-test-waiter' AND state = 'active' AND datname = current_database()"
                      % len(example.wait))
            time.sleep(0.8)
        project = None
        if example.project:
            project = tmp_path / "project"
            for rel, text in example.project.items():
                (project / rel).parent.mkdir(parents=True, exist_ok=True)
                (project / rel).write_text(text)
        machine = machine_from_flags(**{k: v for k, v in example.machine.items()}) if example.machine else None
        report = run_health(url, only=[check.id], thresholds=Thresholds().updated(**example.thresholds),
                            machine=machine, project=project, strict=True)
        assert not [u for u in report.unread if u.check == check.id], report.unread
        return report.findings
    finally:
        for c in holders:
            c.rollback()
            c.close()
        for c, t in waiters:
            c.cancel()
            t.join(10)
            c.close()


@pytest.mark.parametrize("check,i,example", EXAMPLES)
def test_example(check, i, example, request, tmp_path):
    if example.data is not None:
        machine = machine_from_flags(**example.machine) if example.machine else None
        env = Env(thresholds=Thresholds().updated(**example.thresholds), settings=dict(example.settings),
                  boot_values={k: v[0] for k, v in example.settings.items()}, machine=machine)
        findings = check.evaluate(example.data, env)
    else:
        url = request.getfixturevalue("fresh_db")
        findings = run_db_example(check, example, url, tmp_path)
    _judge(check, example, findings)


# The Ecto fixes are real migrations: each applies with the project's own migration reader and
# SQL renderer (as `mix ecto.migrate` would run it), and afterwards the check is quiet about that
# object. Bloat and autovacuum fixes change settings whose effect comes later; an invalid unique
# index rebuilds only once its duplicates are gone (the fix says so).
RESOLVES = {"unused-index", "duplicate-index", "fk-without-index", "table-without-pk", "index-bloat",
            "sequence-overflow", "json-column", "pg-stat-statements-missing"}
APPLIES_LATER = {"table-bloat", "autovacuum"}
MIGRATION_EXAMPLES = [pytest.param(c, i, ex, id=f"{c.id}-{i}") for c in CHECKS for i, ex in enumerate(c.examples)
                      if ex.fires and ex.data is None and not ex.hold and not ex.wait
                      and c.id in RESOLVES | APPLIES_LATER | {"invalid-index"}]


@pytest.mark.parametrize("check,i,example", MIGRATION_EXAMPLES)
def test_the_ecto_fix_applies_and_resolves(check, i, example, fresh_db, tmp_path):
    from evals.database import apply_migrations

    findings = [f for f in run_db_example(check, example, fresh_db, tmp_path) if f.check == check.id]
    target = next(f for f in findings if example.object in (None, f.object))
    assert target.fix.ecto and "defmodule" in target.fix.ecto, target.fix
    path = tmp_path / "20990101000000_health_fix.exs"
    path.write_text(target.fix.ecto)
    if check.id == "invalid-index":
        from tools.errors import InputError

        with pytest.raises(InputError, match="could not create unique index"):
            apply_migrations(fresh_db, [path])
        return
    apply_migrations(fresh_db, [path])
    if check.id in APPLIES_LATER:
        return
    after = run_health(fresh_db, only=[check.id], strict=True).findings
    assert target.object not in {f.object for f in after}, [f.message for f in after]
