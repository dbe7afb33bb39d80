"""Log parsing throughput and memory, against pgBadger on the same PostgreSQL log.

    .venv/bin/python bench/bench_logs.py [--mb 200] [--dir /tmp/ecto-optimizer-bench] [--runs 1]
                                         [--jobs 1,2] [--install-pgbadger] [--json]

Generates (once, then reuses) a log of --mb megabytes in Ecto's dev format and one in
PostgreSQL's stderr format (log_line_prefix '%m [%p] %q%u@%d ', extended-protocol executes with
their parameters, literal statements, multi-line statements), then times the
full analysis (`summarize`: parse, fingerprint, N+1 detection, report) of each in a fresh
process, with its peak RSS. The anchor is pgBadger (Debian package `pgbadger`; install it with
`apt-get install pgbadger` or --install-pgbadger) parsing the same PostgreSQL log in the same
run, to a text report; each -j of --jobs is measured for both tools (ours: `logs -j`), and each
pgBadger figure is compared with ours at the same -j.
Figures are reported as ratios against pgBadger, since absolute speed depends on the machine;
CPU time (user + sys) is given beside wall time because it is what stays fair when other work
shares the machine. Both tools are timed as whole processes, start-up and report included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

PREFIX = "%m [%p] %q%u@%d "
CHILD = """
import json, sys
sys.path.insert(0, {repo!r})
from tools.logs.summary import summarize
s = summarize([{path!r}], jobs={jobs})
print(json.dumps({{"queries": s.queries, "requests": s.requests, "fingerprints": len(s.groups),
                  "findings": len(s.findings)}}))
"""


# ---- the generated logs ------------------------------------------------------------------------
# The traffic: requests to a few pages, each making a handful of queries with fresh params; one
# page has an N+1 (a preload per post, `= $1`), one a slow query. The PostgreSQL log mixes the
# extended protocol (`execute <unnamed>` + `DETAIL:  parameters:`) with literal `statement:` lines
# and a multi-line statement, as a server logs an Ecto app beside a psql session. Deterministic.

POSTS = ('SELECT p0."id", p0."title", p0."body", p0."author_id", p0."inserted_at", p0."updated_at" '
         'FROM "posts" AS p0 WHERE (p0."published" = $1) ORDER BY p0."inserted_at" DESC LIMIT $2')
COMMENTS_ONE = ('SELECT c0."id", c0."body", c0."post_id", c0."inserted_at", c0."updated_at", c0."post_id" '
                'FROM "comments" AS c0 WHERE (c0."post_id" = $1) ORDER BY c0."post_id"')
USER = ('SELECT u0."id", u0."email", u0."name", u0."inserted_at", u0."updated_at" FROM "users" AS u0 '
        'WHERE (u0."id" = $1)')
ORDERS = ('SELECT o0."id", o0."total", o0."status", o0."customer_id" FROM "orders" AS o0 '
          'WHERE ((o0."customer_id" = $1) AND (o0."status" = $2)) ORDER BY o0."inserted_at" DESC')
INSERT = 'INSERT INTO "events" ("kind","payload","inserted_at") VALUES ($1,$2,$3) RETURNING "id"'

ESC = "\x1b"


def _ms(rng: random.Random, base: float) -> float:
    return round(base * rng.lognormvariate(0, 0.5), 1)


def _fmt(ms: float) -> str:
    """Ecto's float rendering: exponent form for round values of 1000 ms and more."""
    if ms >= 1000 and ms == int(ms / 100) * 100:
        text = f"{ms / 1000:.2f}".rstrip("0")
        return (text + "0" if text.endswith(".") else text) + "e3"
    return f"{ms:.1f}"


def ecto_request(rng: random.Random, n: int) -> list[str]:
    lines: list[str] = []
    page = n % 4

    def query(source: str, sql: str, params: str, site: str, mfa: str, base: float) -> None:
        db = _ms(rng, base)
        head = f"[debug] QUERY OK source=\"{source}\" db={_fmt(db)}ms"
        if rng.random() < 0.5:
            head += f" decode={_ms(rng, 0.2)}ms"
        head += f" queue={_ms(rng, 0.1)}ms idle={_ms(rng, 300)}ms"
        lines.append(head)
        lines.append(f"{sql} {params}")
        lines.append(f"{ESC}[90m↳ {mfa}, at: {site}{ESC}[0m")

    if page == 0:
        lines += ["[info] GET /posts", "[debug] Processing with BlogWeb.PostController.index/2",
                  "  Parameters: %{}", "  Pipelines: [:browser]"]
        query("posts", POSTS, "[true, 20]", "lib/blog/posts.ex:14", "Blog.Posts.list_published/0", 2.0)
        for _ in range(rng.randint(5, 12)):
            query("comments", COMMENTS_ONE, f"[{rng.randint(1, 500000)}]", "lib/blog/posts.ex:22",
                  "Blog.Posts.with_comments/1", 0.8)
        lines.append(f"[info] Sent 200 in {rng.randint(20, 90)}ms")
    elif page == 1:
        uid = rng.randint(1, 200000)
        lines += [f"[info] GET /users/{uid}", "[debug] Processing with BlogWeb.UserController.show/2",
                  f"  Parameters: %{{\"id\" => \"{uid}\"}}", "  Pipelines: [:browser]"]
        query("users", USER, f"[{uid}]", "lib/blog/accounts.ex:31", "Blog.Accounts.get_user!/1", 0.5)
        lines.append(f"[info] Sent 200 in {rng.randint(1000, 9000)}µs")
    elif page == 2:
        cid = rng.randint(1, 90000)
        lines += ["[info] GET /orders", "[debug] Processing with ShopWeb.OrderController.index/2",
                  "  Parameters: %{}", "  Pipelines: [:api]"]
        query("orders", ORDERS, f"[{cid}, \"open\"]", "lib/shop/orders.ex:40", "Shop.Orders.open_for/1", 140.0)
        lines.append(f"[info] Sent 200 in {rng.randint(100, 400)}ms")
    else:
        lines += ["[debug] HANDLE EVENT \"track\" in BlogWeb.PostLive.Show", "  Parameters: %{\"kind\" => \"view\"}"]
        lines.append("[debug] QUERY OK db=0.1ms")
        lines.append("begin []")
        query("events", INSERT, f"[\"view\", %{{\"post\" => {rng.randint(1, 9999)}}}, "
                                f"~N[2024-05-01 12:{n % 60:02d}:{(n * 7) % 60:02d}]]",
              "lib/blog/tracking.ex:9", "Blog.Tracking.track/2", 0.4)
        lines.append("[debug] QUERY OK db=0.3ms")
        lines.append("commit []")
        lines.append(f"[debug] Replied in {rng.randint(1, 9)}ms")
    return lines


def pg_request(rng: random.Random, n: int, clock: list[float]) -> list[str]:
    lines: list[str] = []
    pid = 4000 + n % 40

    def stamp(ms: float) -> str:
        clock[0] += ms / 1000.0 + 0.0005
        t = clock[0]
        h, rem = divmod(t, 3600)
        m, s = divmod(rem, 60)
        return f"2024-05-01 {int(h) % 24:02d}:{int(m):02d}:{s:06.3f} UTC [{pid}] app@blog_dev "

    def execute(sql: str, params: list[str], base: float) -> None:
        ms = _ms(rng, base)
        prefix = stamp(ms)
        lines.append(f"{prefix}LOG:  duration: {ms:.3f} ms  execute <unnamed>: {sql}")
        detail = ", ".join(f"${i} = '{v}'" for i, v in enumerate(params, 1))
        lines.append(f"{prefix}DETAIL:  parameters: {detail}")

    page = n % 5
    if page == 0:
        execute(POSTS, ["t", "20"], 2.0)
        for _ in range(rng.randint(5, 12)):
            execute(COMMENTS_ONE, [str(rng.randint(1, 500000))], 0.8)
    elif page == 1:
        execute(USER, [str(rng.randint(1, 200000))], 0.5)
    elif page == 2:
        execute(ORDERS, [str(rng.randint(1, 90000)), "open"], 140.0)
    elif page == 3:
        ms = _ms(rng, 3.0)
        lines.append(f"{stamp(ms)}LOG:  duration: {ms:.3f} ms  statement: SELECT count(*) FROM \"posts\" "
                     f"WHERE author_id = {rng.randint(1, 9999)} AND title ILIKE '%{rng.choice('abcdef')}%'")
    else:
        ms = _ms(rng, 12.0)
        lines.append(f"{stamp(ms)}LOG:  duration: {ms:.3f} ms  statement: SELECT o.customer_id, sum(o.total)")
        lines.append("\tFROM orders o")
        lines.append(f"\tWHERE o.inserted_at > '2024-0{1 + n % 9}-01'")
        lines.append("\tGROUP BY o.customer_id")
    return lines


def write_log(path: Path, kind: str, target_bytes: int, seed: int = 7) -> tuple[int, int]:
    """Write requests until the file reaches target_bytes; (bytes, lines) written."""
    rng = random.Random(seed)
    size = lines_written = n = 0
    clock = [0.0]
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        buffer: list[str] = []
        while size < target_bytes:
            lines = ecto_request(rng, n) if kind == "ecto" else pg_request(rng, n, clock)
            n += 1
            chunk = "\n".join(lines) + "\n"
            buffer.append(chunk)
            size += len(chunk.encode("utf-8"))
            lines_written += len(lines)
            if len(buffer) >= 2000:
                out.write("".join(buffer))
                buffer.clear()
        out.write("".join(buffer))
    return size, lines_written


# ---- measuring -----------------------------------------------------------------------------------

def ensure_log(directory: Path, kind: str, mb: int) -> tuple[Path, int, int]:
    path = directory / f"{kind}-{mb}mb.log"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("size") == path.stat().st_size:
            return path, info["size"], info["lines"]
    print(f"generating {path} ({mb} MB)…", file=sys.stderr)
    size, lines = write_log(path, "ecto" if kind == "ecto" else "pg", mb * 1_000_000)
    meta.write_text(json.dumps({"size": path.stat().st_size, "lines": lines}))
    return path, path.stat().st_size, lines


def run_ours(path: Path, jobs: int) -> dict:
    measured = measure([sys.executable, "-c", CHILD.format(repo=str(REPO), path=str(path), jobs=jobs)])
    return {**json.loads(measured.pop("stdout")), **measured}


MEASURED = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss,
                  "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-300:]}))
"""


def measure(command: list[str]) -> dict:
    """Wall time, CPU time (user + sys, the fair figure on a busy machine) and peak RSS of a whole
    process and its children, measured from a fresh process so nothing else is counted."""
    out = subprocess.run([sys.executable, "-c", MEASURED, *command], capture_output=True, text=True, check=True)
    measured = json.loads(out.stdout)
    if measured.pop("returncode") != 0:
        raise SystemExit(f"{Path(command[0]).name} failed: {measured['stderr'].strip()}")
    measured.pop("stderr")
    return measured


def run_pgbadger(path: Path, jobs: int, workdir: Path) -> dict:
    report = workdir / f"pgbadger-j{jobs}.txt"
    measured = measure(["pgbadger", "-q", "-f", "stderr", "--prefix", PREFIX, "-j", str(jobs), "-x", "text",
                        "-o", str(report), "--outdir", str(workdir), str(path)])
    measured.pop("stdout")
    queries = None
    for line in report.read_text(errors="replace").splitlines():
        if line.startswith("Number of queries:"):
            queries = int(line.split(":", 1)[1].strip().replace(",", ""))
            break
    return {"queries": queries, **measured}


def pgbadger_version() -> str | None:
    if not shutil.which("pgbadger"):
        return None
    out = subprocess.run(["pgbadger", "--version"], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def median_run(fn, runs: int) -> dict:
    results = [fn() for _ in range(runs)]
    best = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    best["seconds_all"] = [round(r["seconds"], 2) for r in results]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of each generated log (default 200)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "ecto-optimizer-bench")
    parser.add_argument("--runs", type=int, default=1, help="runs per measurement; the median is reported")
    parser.add_argument("--jobs", default="1,2", help="-j values to measure, ours and pgBadger's alike (default 1,2)")
    parser.add_argument("--install-pgbadger", action="store_true", help="apt-get install pgbadger if missing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)

    if not shutil.which("pgbadger") and args.install_pgbadger:
        subprocess.run(["apt-get", "install", "-y", "-q", "pgbadger"], check=False)
    version = pgbadger_version()

    rows = []
    job_counts = [int(j) for j in args.jobs.split(",") if j.strip()]
    for kind in ("ecto", "stderr"):
        path, size, lines = ensure_log(args.dir, kind, args.mb)
        for jobs in job_counts:
            ours = median_run(lambda: run_ours(path, jobs), args.runs)
            rows.append({"tool": "ecto-optimizer", "format": kind, "jobs": jobs, "size": size, "lines": lines,
                         **ours})
        if kind == "stderr" and version:
            with tempfile.TemporaryDirectory() as work:
                for jobs in job_counts:
                    anchor = median_run(lambda: run_pgbadger(path, jobs, Path(work)), args.runs)
                    rows.append({"tool": "pgBadger", "format": kind, "jobs": jobs, "size": size, "lines": lines,
                                 **anchor})
    for row in rows:
        row["mb_per_s"] = row["size"] / 1e6 / row["seconds"]
        row["lines_per_s"] = row["lines"] / row["seconds"]
    for row in rows:
        if row["tool"] == "pgBadger":
            # Compared with ours on the same log with the same number of processes.
            ours = next(r for r in rows if r["tool"] == "ecto-optimizer" and r["format"] == "stderr"
                        and r["jobs"] == row["jobs"])
            row["our_speedup"] = row["seconds"] / ours["seconds"]
            row["our_cpu_speedup"] = row["cpu_seconds"] / ours["cpu_seconds"]

    result = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "pgbadger": version,
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{os.cpu_count()} CPU(s), Python {result['machine']['python']}, {version or 'pgBadger not installed'}")
    print(f"{'tool':<15} {'format':<7} {'-j':>2} {'MB':>6} {'wall s':>8} {'CPU s':>8} {'MB/s':>7} {'lines/s':>9} "
          f"{'queries':>9} {'peak RSS':>9}  ours at the same -j is (wall, CPU)")
    for r in rows:
        rss = f"{r['rss_kb'] / 1024:.0f} MB" if r.get("rss_kb") else "?"
        ratio = f"{r['our_speedup']:.1f}x, {r['our_cpu_speedup']:.1f}x faster" if "our_speedup" in r else ""
        print(f"{r['tool']:<15} {r['format']:<7} {r['jobs']:>2} {r['size'] / 1e6:>6.0f} {r['seconds']:>8.2f} "
              f"{r['cpu_seconds']:>8.2f} {r['mb_per_s']:>7.1f} {r['lines_per_s']:>9.0f} {r['queries'] or '?':>9} "
              f"{rss:>9}  {ratio}")
    if not version:
        print("pgBadger is not installed: `apt-get install pgbadger` (or --install-pgbadger) for the anchor.")


if __name__ == "__main__":
    main()
