"""Fingerprints, N+1 findings and their Ecto fixes, the `logs` command and the `analyze_logs` tool,
on synthetic logs and on the logs of the N+1 eval cases."""

import json
import sys
import tracemalloc
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tools.base import ToolContext, ToolError
from tools.logs.fingerprint import Fingerprinter, FingerprintStats, mask
from tools.logs.nplusone import ecto_fix, shape
from tools.logs.summary import summarize

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "evals" / "cases"
sys.path.insert(0, str(REPO / "bench"))

from bench_logs import write_log  # noqa: E402

PRELOAD = ('SELECT c0."id", c0."body", c0."post_id", c0."post_id" FROM "comments" AS c0 '
           'WHERE (c0."post_id" = $1) ORDER BY c0."post_id"')
BATCH = PRELOAD.replace("= $1", "= ANY($1)")
GET = 'SELECT u0."id", u0."email" FROM "users" AS u0 WHERE (u0."id" = $1)'


def request(label: str, queries: list[tuple[str, str, float, str]], n: int = 0) -> str:
    lines = [f"[info] GET {label}"]
    for sql, params, ms, site in queries:
        lines += [f'[debug] QUERY OK source="x" db={ms}ms', f"{sql} {params}",
                  f"\x1b[90m↳ App.Ctx.fun/1, at: {site}\x1b[0m"]
    lines.append(f"[info] Sent 200 in {n + 5}ms")
    return "\n".join(lines) + "\n"


def log(tmp_path, text: str) -> Path:
    path = tmp_path / "dev.log"
    path.write_text(text)
    return path


# ---- fingerprints ---------------------------------------------------------------------------------

def test_fingerprints_ignore_values_numbering_and_in_list_length():
    fp = Fingerprinter()
    same = ["SELECT * FROM t WHERE a = 1 AND b IN (1, 2, 3)", "select * from t where a = 42 and b in (7)",
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)", "SELECT * FROM t WHERE a = 'x' AND b IN ('y')"]
    assert len({fp.of(s) for s in same}) == 1
    assert fp.of("SELECT * FROM u WHERE a = 1") != fp.of(same[0])
    assert fp.of("SELECT broken FROM (") == fp.of("SELECT broken FROM (")  # unparsable: a stable digest
    assert fp.of("SELECT broken FROM (").startswith("~") and fp.unparsed == 1
    assert mask("SELECT \"t1\".\"c2\" FROM t1 WHERE x = 'it''s' AND y IN (1, 2) AND z = $3") == \
        "SELECT \"t1\".\"c2\" FROM t1 WHERE x = ? AND y IN (?) AND z = ?"


def test_the_cache_stays_bounded_on_unique_literal_statements():
    fp = Fingerprinter(cache_size=100)
    for i in range(1000):
        fp.of(f"SELECT * FROM t WHERE id = {i} AND name = 'n{i}'")
    assert len(fp.cache) <= 100


def test_p95_exact_then_from_the_histogram():
    stats = FingerprintStats("f")
    for ms in range(1, 101):
        stats.add("q", float(ms), None, None, None)
    assert stats.percentile(0.95) == 95.0 and stats.mean_ms == 50.5
    big = FingerprintStats("g")
    for i in range(20_000):
        big.add("q", float(i % 1000) + 1.0, None, None, None)
    assert big.histogram is not None and len(big.samples) == 0
    assert 950.0 <= big.percentile(0.95) <= 950.0 * 1.021 and big.max_ms == 1000.0


def test_groups_rank_by_total_time_with_the_slowest_calls_params(tmp_path):
    text = request("/a", [(GET, "[1]", 2.0, "lib/a.ex:1"), (GET, "[2]", 9.0, "lib/a.ex:1"),
                          ('SELECT 1 FROM "t" AS t0', "[]", 3.0, "lib/b.ex:2")])
    s = summarize([log(tmp_path, text)])
    assert [(g.sql, g.calls, g.total_ms, g.max_ms, g.params) for g in s.groups] == [
        (GET, 2, 11.0, 9.0, "[2]"), ('SELECT 1 FROM "t" AS t0', 1, 3.0, 3.0, "[]")]
    assert (s.requests, s.queries, s.formats) == (1, 3, ["ecto"])


# ---- N+1 ------------------------------------------------------------------------------------------

def test_five_repeats_from_one_site_in_one_request_is_an_n_plus_one(tmp_path):
    text = request("/posts", [(PRELOAD, f"[{i}]", 1.0, "lib/blog/posts.ex:22") for i in range(5)])
    (f,) = summarize([log(tmp_path, text)]).findings
    assert (f.kind, f.count, f.total_ms, f.request, f.call_site, f.params) == (
        "n_plus_one", 5, 5.0, "GET /posts", "lib/blog/posts.ex:22", "[0]")
    assert "Repo.preload(posts, :comments)" in f.fix and "= ANY($1)" in f.fix


@pytest.mark.parametrize("count, ms, flagged", [(4, 1.0, False), (5, 1.0, True), (2, 30.0, True), (2, 20.0, False),
                                                (1, 500.0, False)])
def test_sentry_thresholds(tmp_path, count, ms, flagged):
    text = request("/p", [(GET, f"[{i}]", ms, "lib/a.ex:3") for i in range(count)])
    kinds = [f.kind for f in summarize([log(tmp_path, text)], slow_ms=10_000).findings]
    assert ("n_plus_one" in kinds) == flagged


def test_different_call_sites_or_requests_are_not_one_n_plus_one(tmp_path):
    sites = request("/p", [(GET, f"[{i}]", 1.0, f"lib/a.ex:{i}") for i in range(6)])
    spread = "".join(request(f"/p{i}", [(GET, "[1]", 1.0, "lib/a.ex:3")]) for i in range(6))
    assert summarize([log(tmp_path, sites + spread)]).findings == []


def test_one_finding_for_many_requests_reporting_the_worst(tmp_path):
    text = request("/p1", [(GET, f"[{i}]", 1.0, "lib/a.ex:3") for i in range(5)]) + \
        request("/p2", [(GET, f"[{i}]", 2.0, "lib/a.ex:3") for i in range(8)])
    (f,) = summarize([log(tmp_path, text)]).findings
    assert (f.request, f.count, f.total_ms) == ("GET /p2", 8, 16.0)
    assert "Seen in 2 requests, 21.0 ms in all" in f.fix


def test_the_batched_form_elsewhere_is_pointed_out(tmp_path):
    text = request("/a", [(BATCH, "[[1, 2, 3]]", 1.0, "lib/blog/posts.ex:9")]) + \
        request("/b", [(PRELOAD, f"[{i}]", 1.0, "lib/blog/posts.ex:22") for i in range(5)])
    (f,) = summarize([log(tmp_path, text)]).findings
    assert f.call_site == "lib/blog/posts.ex:22" and "skipped it" in f.fix


def test_the_same_params_again_and_again_is_a_repeat(tmp_path):
    text = request("/a", [(GET, "[1]", 1.0, "lib/a.ex:3") for _ in range(5)])
    (f,) = summarize([log(tmp_path, text)]).findings
    assert f.fix.startswith("the same query with the same params")


def test_transaction_statements_are_never_n_plus_ones(tmp_path):
    text = request("/a", [("begin", "[]", 1.0, "lib/a.ex:3"), ("commit", "[]", 1.0, "lib/a.ex:3")] * 5)
    assert summarize([log(tmp_path, text)]).findings == []


@pytest.mark.parametrize("sql, kind, words", [
    (PRELOAD, "preload_many", ["Repo.preload(posts, :comments)", "left_join: x in assoc(p, :comments)"]),
    ('SELECT u0."id", u0."email", u0."id" FROM "users" AS u0 WHERE (u0."id" = $1)', "preload_one",
     ["Repo.preload(records, :user)"]),
    ('SELECT t0."id", t0."name", p1."post_id"::bigint FROM "tags" AS t0 INNER JOIN "posts_tags" AS p1 ON '
     't0."id" = p1."tag_id" WHERE (p1."post_id" = $1) ORDER BY p1."post_id"::bigint', "preload_m2m",
     ["Repo.preload(records, :tags)"]),
    (GET, "get", ["belongs_to :user", "where: x.id in ^ids", "Map.new"]),
    ('SELECT c0."id" FROM "cards" AS c0 WHERE (c0."status" != \'done\') AND (c0."project_id" = $1)', "by_column",
     ["where: x.project_id in ^values", "Enum.group_by"]),
    ('SELECT count(*) FROM "comments" AS c0 WHERE (c0."post_id" = $1)', "count", ["group_by: x.post_id"]),
    ('SELECT TRUE FROM "likes" AS l0 WHERE (l0."post_id" = $1) LIMIT 1', "exists", ["MapSet"]),
    ('INSERT INTO "events" ("kind") VALUES ($1) RETURNING "id"', "insert", ["Repo.insert_all(Event, rows)"]),
    ('UPDATE "items" SET "qty" = $1 WHERE "id" = $2', "update", ["Repo.update_all"]),
    ('DELETE FROM "categories" WHERE "id" = $1', "delete", ["Repo.delete_all(from x in Category"]),
])
def test_the_ecto_fix_follows_the_sql_shape(sql, kind, words):
    assert shape(sql).kind == kind
    fix = ecto_fix(sql)
    for word in words:
        assert word in fix, fix


def test_a_server_log_without_call_sites_needs_the_count(tmp_path):
    lines = "".join(f"2024-05-01 12:00:00.{50 * i:03d} UTC [5] LOG:  duration: 40.000 ms  execute <unnamed>: {GET}\n"
                    f"2024-05-01 12:00:00.{50 * i:03d} UTC [5] DETAIL:  parameters: $1 = '{i}'\n" for i in range(3))
    path = tmp_path / "pg.log"
    path.write_text(lines)
    assert [f.kind for f in summarize([path], slow_ms=1000).findings] == []  # 120 ms, but only 3 and no site
    assert [f.kind for f in summarize([path], slow_ms=1000, min_count=3).findings] == ["n_plus_one"]


# ---- the eval cases' logs ---------------------------------------------------------------------------

def test_the_repo_get_case_log():
    s = summarize([CASES / "n-plus-one-repo-get" / "project" / "log" / "dev.log"])
    (f,) = [f for f in s.findings if f.kind == "n_plus_one"]
    assert (f.call_site, f.request, f.count) == ("lib/shop/orders.ex:21", "GET /orders", 50)
    assert f.sql.startswith('SELECT c0."id", c0."name"') and "Repo.preload(records, :customer)" in f.fix


def test_the_preload_for_case_log():
    s = summarize([CASES / "n-plus-one-preload-for" / "project" / "log" / "dev.log"])
    (f,) = [f for f in s.findings if f.kind == "n_plus_one"]
    assert f.call_site == "lib/tracker/boards.ex:21" and f.count >= 5
    assert "Repo.preload(projects, :cards)" in f.fix


def test_the_fk_index_case_log_has_a_slow_query_and_no_n_plus_one():
    s = summarize([CASES / "fk-index-preload" / "project" / "log" / "dev.log"])
    assert [f.kind for f in s.findings] == ["slow_query"]
    assert s.groups[0].params == "[1377]" and s.groups[0].mean_ms > 900


# ---- the command and the tool ---------------------------------------------------------------------

def cli():
    from agent.cli_evidence import register

    app = typer.Typer()
    register(app)
    return app


def test_logs_json_has_exactly_the_documented_shape(tmp_path):
    text = request("/posts", [(PRELOAD, f"[{i}]", 120.0, "lib/blog/posts.ex:22") for i in range(5)])
    result = CliRunner().invoke(cli(), ["logs", str(log(tmp_path, text)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["requests", "queries", "fingerprints", "findings"]
    assert (data["requests"], data["queries"]) == (1, 5)
    assert {"sql", "calls", "total_ms", "mean_ms", "p95_ms", "params", "call_sites"} <= set(data["fingerprints"][0])
    kinds = [f["kind"] for f in data["findings"]]
    assert kinds == ["n_plus_one", "slow_query"]
    for finding in data["findings"]:
        assert list(finding) == ["kind", "call_site", "request", "count", "total_ms", "sql", "params", "fix"]


def test_logs_text_and_bad_input(tmp_path):
    text = request("/posts", [(PRELOAD, f"[{i}]", 1.0, "lib/blog/posts.ex:22") for i in range(5)])
    result = CliRunner().invoke(cli(), ["logs", str(log(tmp_path, text))])
    assert result.exit_code == 0 and "N+1: 5x in GET /posts from lib/blog/posts.ex:22" in result.output
    missing = CliRunner().invoke(cli(), ["logs", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2 and missing.output.strip().count("\n") == 0
    assert "no such log file" in missing.output
    bad = CliRunner().invoke(cli(), ["logs", str(log(tmp_path, text)), "--format", "syslog"])
    assert bad.exit_code == 2 and "unknown log format" in bad.output


def test_analyze_logs_tool_keeps_what_the_reference_policy_reads(tmp_path):
    from tools.logs.summary import AnalyzeLogs
    from tools.registry import get_tool

    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "dev.log").write_text(
        request("/p", [(PRELOAD, f"[{i}]", 12.0, "lib/blog/posts.ex:22") for i in range(5)]))
    tool = get_tool("analyze_logs")
    assert isinstance(tool, AnalyzeLogs)
    out = json.loads(tool.run({"paths": ["log/dev.log"], "format": "json"}, ToolContext(project_root=tmp_path)))
    group = out["groups"][0]
    assert (group["sql"], group["params"], group["mean_ms"]) == (PRELOAD, "[0]", 12.0)
    (finding,) = [f for f in out["findings"] if f["kind"] == "n_plus_one"]
    assert {"kind", "count", "request", "call_site", "total_ms", "fix"} <= set(finding)
    assert "N+1: 5x" in tool.run({"paths": "log/dev.log"}, ToolContext(project_root=tmp_path))
    with pytest.raises(ToolError, match="not a file"):
        tool.run({"paths": ["log/none.log"]}, ToolContext(project_root=tmp_path))
    with pytest.raises(ToolError):
        tool.run({"paths": ["../../etc/passwd"]}, ToolContext(project_root=tmp_path))


def test_query_stats_tool_is_described():
    from tools.logs.tool import AnalyzeLogs, QueryStats

    for tool in (AnalyzeLogs(), QueryStats()):
        assert tool.description and tool.definition()["input_schema"]["type"] == "object"


# ---- bounded memory -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ecto", "pg"])
def test_memory_stays_bounded_whatever_the_length(tmp_path, kind):
    import tools.explain.insights  # noqa: F401 - imported before measuring: modules are not the log's memory

    peaks = []
    for size in (1_500_000, 6_000_000):
        path = tmp_path / f"{kind}-{size}.log"
        write_log(path, kind, size)
        tracemalloc.start()
        try:
            s = summarize([path])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert s.queries > 2_000
        peaks.append(peak)
    # 1 MB blocks, bounded aggregates and tallies: four times the log, (nearly) the same peak.
    assert peaks[1] < peaks[0] * 1.25 + 1_000_000, peaks
    assert peaks[1] < 32_000_000, peaks


def test_an_n_plus_one_logged_in_a_context_function_is_traced_to_its_loop(tmp_path):
    (tmp_path / "lib" / "shop").mkdir(parents=True)
    (tmp_path / "lib" / "shop" / "accounts.ex").write_text(
        "defmodule Shop.Accounts do\n  alias Shop.Repo\n\n  def get_customer!(id), do: Repo.get!(Customer, id)\nend\n")
    (tmp_path / "lib" / "shop" / "orders.ex").write_text(
        "defmodule Shop.Orders do\n  alias Shop.Accounts\n\n  def page(orders) do\n"
        "    Enum.map(orders, fn o -> {o, Accounts.get_customer!(o.customer_id)} end)\n  end\nend\n")
    (tmp_path / "log").mkdir()
    text = request("/orders", [(GET, f"[{i}]", 1.0, "lib/shop/accounts.ex:4") for i in range(6)])
    (tmp_path / "log" / "dev.log").write_text(text)
    (f,) = summarize([tmp_path / "log" / "dev.log"], code=tmp_path).findings
    assert f.call_site == "lib/shop/accounts.ex:4"
    assert f.fix.endswith("The loop: lib/shop/orders.ex:5 (Accounts.get_customer!/1 (Repo.get! at "
                          "lib/shop/accounts.ex:4) inside Enum.map at line 5)")
    result = CliRunner().invoke(cli(), ["logs", str(tmp_path / "log" / "dev.log"), "--code", str(tmp_path), "--json"])
    assert "The loop: lib/shop/orders.ex:5" in json.loads(result.output)["findings"][0]["fix"]


# ---- in parts, as pgBadger -j ---------------------------------------------------------------------

def _jsonlog(path: Path, n: int) -> None:
    with open(path, "w") as out:
        for i in range(n):
            second = i * 0.002
            out.write(json.dumps({
                "timestamp": f"2024-05-01 12:{int(second // 60):02d}:{second % 60:06.3f} UTC", "pid": 7 + i % 3,
                "session_id": f"6632a1b0.{7 + i % 3:x}", "error_severity": "LOG",
                "message": f"duration: {1 + i % 7}.000 ms  execute <unnamed>: {PRELOAD if i % 2 else GET}",
                "detail": f"parameters: $1 = '{i}'"}) + "\n")


@pytest.mark.parametrize("kind", ["ecto", "pg", "jsonlog"])
def test_reading_in_parts_gives_the_same_answer(tmp_path, monkeypatch, kind):
    from tools.logs import parallel

    path = tmp_path / f"{kind}.log"
    if kind == "jsonlog":
        _jsonlog(path, 30_000)
    else:
        write_log(path, kind, 3_000_000)
    monkeypatch.setattr(parallel, "MIN_PART", 0)
    points = parallel.cut_points(path, {"pg": "stderr"}.get(kind, kind), 3)
    assert len(points) == 3 and points == sorted(set(points))
    whole, parts = summarize([path]), summarize([path], jobs=3)

    def shape(s):
        return (s.queries, [(g.fingerprint, g.calls, round(g.total_ms, 3), g.max_ms, g.params) for g in s.groups],
                [(f.kind, f.sql, f.call_site) for f in s.findings])

    assert shape(parts) == shape(whole) and whole.queries > 5_000
    assert abs(parts.requests - whole.requests) <= 2  # a request cut in two, at most, per cut


def test_small_csv_and_gzip_logs_are_read_in_one_piece(tmp_path):
    from tools.logs import parallel

    path = tmp_path / "x.log"
    path.write_text("x\n")
    assert not parallel.splittable(path, "stderr", 4)  # under 16 MB
    assert not parallel.splittable(path, "csvlog", 4) and not parallel.splittable(path, "stderr", 1)
