"""check-migrations on real open-source Ecto apps: no crash, findings per rule, time per file.

    .venv/bin/python bench/bench_migrations.py [--runs 3] [--json out.json] [--apps firezone,hexpm]

The apps are not part of this repository. They are located at run time, in this order:
  1. $ECTO_OPTIMIZER_REAL_APPS/<owner>+<name>/ holding a checkout (or a bare `repo` git dir);
  2. /work/.mirror/<owner>+<name>/repo, a bare git mirror (read with `git archive`).
An app that cannot be found is skipped with a line saying so; with none found the script says
how to provide them and exits 0.

Anchor: squawk (PyPI/npm `squawk-cli`), if it is on PATH, at $SQUAWK, or in /tmp/squawk-env,
lints the same migrations' SQL (rendered by tools.ecto.migration_sql) in the same run; the
ratio is our ms per file over squawk's. squawk reads SQL only, we parse Elixir and read the
app's config and schemas, so the ratio is an upper bound on our overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.migrations.lint import lint_paths  # noqa: E402

# owner/name -> migrations directory inside the repository (PostgreSQL repos only: nerves_hub's
# priv/analytics_repo is ClickHouse).
APPS = {
    "firezone/firezone": "elixir/priv/repo/migrations",
    "operately/operately": "app/priv/repo/migrations",
    "nerves-hub/nerves_hub_web": "priv/repo/migrations",
    "hexpm/hexpm": "priv/repo/migrations",
    "thechangelog/changelog.com": "priv/repo/migrations",
    "teslamate-org/teslamate": "priv/repo/migrations",
    "glific/glific": "priv/repo/migrations",
}
GOAL_MS = 5.0


def locate(repo: str, workdir: Path) -> Path | None:
    """A directory holding the app's .ex/.exs files, extracting from a bare mirror if needed."""
    key = repo.replace("/", "+")
    roots = []
    if os.environ.get("ECTO_OPTIMIZER_REAL_APPS"):
        roots.append(Path(os.environ["ECTO_OPTIMIZER_REAL_APPS"]) / key)
    roots.append(Path("/work/.mirror") / key)
    for root in roots:
        if (root / APPS[repo]).is_dir():
            return root
        git_dir = root / "repo" if (root / "repo").is_dir() else root if (root / "HEAD").is_file() else None
        if git_dir is None:
            continue
        out = workdir / key
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD", "--",
                                  ":(glob)**/*.ex", ":(glob)**/*.exs"], capture_output=True)
        if archive.returncode != 0:
            continue
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
        if (out / APPS[repo]).is_dir():
            return out
    return None


def find_squawk() -> str | None:
    for candidate in (os.environ.get("SQUAWK"), shutil.which("squawk"), "/tmp/squawk-env/bin/squawk"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def render_sql(result, out_dir: Path) -> int:
    """Each checked migration's up SQL as <version>.sql; the number of files written."""
    from tools.ecto.migration_sql import migration_sql

    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for mf in result.checked:
        if mf.migration is None:
            continue
        try:
            stmts = migration_sql(mf.migration, "up", config=result.repo_config, on_dynamic=lambda op: None)
        except Exception:  # noqa: BLE001 - a migration Ecto itself would reject has no SQL to anchor on
            continue
        if stmts:
            (out_dir / f"{mf.path.stem}.sql").write_text(";\n".join(s.sql for s in stmts) + ";\n")
            written += 1
    return written


def run_squawk(squawk: str, sql_dir: Path, runs: int) -> tuple[float, int]:
    files = sorted(str(p) for p in sql_dir.glob("*.sql"))
    best, violations = float("inf"), 0
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run([squawk, "--reporter", "json", "--assume-in-transaction", *files],
                              capture_output=True, text=True)
        best = min(best, time.perf_counter() - started)
        try:
            violations = len(json.loads(proc.stdout or "[]"))
        except ValueError:
            violations = -1
    return best, violations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per app (the best is kept)")
    parser.add_argument("--apps", default="", help="comma-separated substrings of owner/name to keep")
    parser.add_argument("--json", dest="json_out", help="write the figures as JSON here")
    args = parser.parse_args()
    wanted = [a for a in args.apps.split(",") if a]
    workdir = Path(tempfile.mkdtemp(prefix="bench-migrations-"))
    squawk = find_squawk()
    rows, per_rule, crashes = [], Counter(), []
    total_files, total_s, total_squawk_s, total_sql_files = 0, 0.0, 0.0, 0
    try:
        for repo, rel in APPS.items():
            if wanted and not any(w in repo for w in wanted):
                continue
            root = locate(repo, workdir)
            if root is None:
                print(f"skip {repo}: not found (set ECTO_OPTIMIZER_REAL_APPS to a directory with "
                      f"{repo.replace('/', '+')}/ in it)")
                continue
            directory = root / rel
            try:
                lint_paths([directory])  # warm: imports, file cache
                times = []
                for _ in range(max(1, args.runs)):
                    started = time.perf_counter()
                    result = lint_paths([directory])
                    times.append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - a crash is the finding this bench looks for
                crashes.append(f"{repo}: {type(exc).__name__}: {exc}")
                traceback.print_exc()
                continue
            n = len(result.checked)
            best = min(times)
            counts = Counter((f.rule, f.severity) for f in result.findings)
            per_rule.update(counts)
            row = {"app": repo, "files": n, "ms_per_file": 1000 * best / n,
                   "ms_per_file_median": 1000 * statistics.median(times) / n,
                   "findings": result.counts(), "migration_lock": result.settings.migration_lock}
            if squawk:
                sql_dir = workdir / "sql" / repo.replace("/", "+")
                sql_files = render_sql(result, sql_dir)
                if sql_files:
                    sq_s, sq_v = run_squawk(squawk, sql_dir, max(1, args.runs))
                    row.update(squawk_files=sql_files, squawk_ms_per_file=1000 * sq_s / sql_files,
                               squawk_violations=sq_v)
                    total_squawk_s += sq_s
                    total_sql_files += sql_files
            rows.append(row)
            total_files += n
            total_s += best
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not rows:
        print("no real apps found: nothing measured (see the module docstring for where they are looked up)")
        return 0
    print(f"\n{'app':32} {'files':>6} {'ms/file':>8} {'errors':>7} {'warns':>6} {'info':>6}"
          + (f" {'squawk ms/file':>15}" if squawk else ""))
    for r in rows:
        f = r["findings"]
        line = f"{r['app']:32} {r['files']:>6} {r['ms_per_file']:>8.2f} {f['error']:>7} {f['warning']:>6} {f['info']:>6}"
        if "squawk_ms_per_file" in r:
            line += f" {r['squawk_ms_per_file']:>15.2f}"
        print(line)
    ours = 1000 * total_s / total_files
    print(f"\n{total_files} migrations in {len(rows)} apps, {len(crashes)} crash(es); "
          f"{ours:.2f} ms per file (goal < {GOAL_MS:g} ms) {'OK' if ours < GOAL_MS else 'SLOW'}")
    summary = {"apps": rows, "files": total_files, "ms_per_file": ours, "crashes": crashes,
               "per_rule": {f"{r}/{s}": n for (r, s), n in per_rule.most_common()}}
    if squawk and total_sql_files:
        theirs = 1000 * total_squawk_s / total_sql_files
        print(f"squawk ({squawk}): {theirs:.2f} ms per file on the same migrations' SQL; "
              f"ratio ours/squawk = {ours / theirs:.2f}")
        summary.update(squawk_ms_per_file=theirs, ratio=ours / theirs)
    else:
        print("anchor not measured: squawk-cli is not installed (pip install squawk-cli, or set $SQUAWK)")
    print("\nfindings per rule:")
    for (rule, sev), n in per_rule.most_common():
        print(f"  {rule:36} {sev:8} {n}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
