"""The Ecto/Phoenix dev-log reader: the grammar of ecto-formats.md §1-§5, request grouping, and
input that must never crash it."""

import gzip
import random

import pytest

from tools.errors import InputError
from tools.logs.ecto import LoggedQuery, Request, read_file, read_lines, split_params

ESC = "\x1b"


def events(text: str, **kw):
    return list(read_lines(text.splitlines(True), **kw))


def queries(text: str):
    return [e for e in events(text) if isinstance(e, LoggedQuery)]


def requests(text: str):
    return [e for e in events(text) if isinstance(e, Request)]


DEV_REQUEST = f"""[info] GET /posts/42
[debug] Processing with BlogWeb.PostController.show/2
  Parameters: %{{"id" => "42"}}
  Pipelines: [:browser]
[debug] QUERY OK source="posts" db=0.6ms decode=0.2ms queue=0.1ms idle=812.3ms
SELECT p0."id", p0."title" FROM "posts" AS p0 WHERE (p0."id" = $1) [42]
{ESC}[90m↳ BlogWeb.PostController.show/2, at: lib/blog_web/controllers/post_controller.ex:20{ESC}[0m
[info] Sent 200 in 7ms
"""


def test_a_dev_request_with_its_query():
    (q,) = queries(DEV_REQUEST)
    assert q.sql == 'SELECT p0."id", p0."title" FROM "posts" AS p0 WHERE (p0."id" = $1)'
    assert q.params == "[42]"
    assert (q.status, q.source, q.db_ms, q.decode_ms, q.queue_ms, q.idle_ms) == ("OK", "posts", 0.6, 0.2, 0.1, 812.3)
    assert q.total_ms == pytest.approx(0.9)
    assert q.call_site == "lib/blog_web/controllers/post_controller.ex:20"
    assert q.function == "BlogWeb.PostController.show/2"
    assert q.request == "GET /posts/42" and q.line == 5
    (r,) = requests(DEV_REQUEST)
    assert (r.label, r.status, r.duration, r.query_count, r.ended) == ("GET /posts/42", "200", "7ms", 1, True)
    assert r.queries == [q]  # keep=True (the default) keeps them for callers that want them


def test_keep_false_holds_no_queries_in_requests():
    (r,) = [e for e in events(DEV_REQUEST, keep=False) if isinstance(e, Request)]
    assert r.queries == [] and r.query_count == 1


@pytest.mark.parametrize("logged, ms", [("1.0e3", 1000.0), ("1.2e3", 1200.0), ("1.23e4", 12300.0), ("1230.0", 1230.0),
                                        ("0.1", 0.1)])
def test_times_in_ectos_number_format(logged, ms):
    (q,) = queries(f'[debug] QUERY OK source="t" db={logged}ms\nSELECT 1 FROM "t" AS t0 []\n')
    assert q.db_ms == ms


def test_the_whole_message_in_colour_and_every_frame_of_a_long_stack():
    text = (f"{ESC}[36m[debug] QUERY OK source=\"posts\" db=1.5ms\n"
            f"SELECT p0.\"id\" FROM \"posts\" AS p0 WHERE (p0.\"author_id\" = $1) [7]{ESC}[0m\n"
            f"{ESC}[90m↳ Blog.Posts.by_author/1, at: lib/blog/posts.ex:30\n"
            f"  BlogWeb.AuthorLive.mount/3, at: lib/blog_web/live/author_live.ex:12\n"
            f"  Phoenix.LiveView.Utils.maybe_call_mount!/3, at: lib/phoenix_live_view/utils.ex:1{ESC}[0m\n")
    (q,) = queries(text)
    assert q.params == "[7]" and q.call_site == "lib/blog/posts.ex:30"
    assert q.stack == ("lib/blog/posts.ex:30", "lib/blog_web/live/author_live.ex:12",
                       "lib/phoenix_live_view/utils.ex:1")


def test_request_ids_group_interleaved_requests():
    text = """12:00:01.001 request_id=F9xA [info] GET /a
12:00:01.002 request_id=G7yB [info] GET /b
12:00:01.003 request_id=F9xA [debug] QUERY OK source="users" db=1.0ms
SELECT u0."id" FROM "users" AS u0 WHERE (u0."id" = $1) [1]
12:00:01.004 request_id=G7yB [debug] QUERY OK source="users" db=2.0ms
SELECT u0."id" FROM "users" AS u0 WHERE (u0."id" = $1) [2]
12:00:01.005 request_id=G7yB [info] Sent 200 in 5ms
12:00:01.006 [debug] QUERY OK source="tags" db=0.5ms
SELECT t0."id" FROM "tags" AS t0 WHERE (t0."post_id" = $1) [1]
12:00:01.007 request_id=F9xA [info] Sent 404 in 9ms
"""
    qs = queries(text)
    assert [(q.params, q.request) for q in qs] == [("[1]", "GET /a"), ("[2]", "GET /b"), ("[1]", "GET /a")]
    assert qs[0].request_key == qs[2].request_key != qs[1].request_key
    rs = requests(text)
    assert [(r.label, r.request_id, r.status, r.query_count) for r in rs] == [
        ("GET /b", "G7yB", "200", 1), ("GET /a", "F9xA", "404", 2)]


def test_liveview_blocks_are_units():
    text = """[debug] MOUNT BlogWeb.PostLive.Index
  Parameters: %{}
  Session: %{"_csrf_token" => "x"}
[debug] QUERY OK source="posts" db=2.0ms
SELECT p0."id" FROM "posts" AS p0 []
[debug] Replied in 1.5ms
[debug] HANDLE EVENT "save" in BlogWeb.PostLive.Index
  Component: BlogWeb.PostLive.FormComponent
  Parameters: %{"post" => %{"title" => "x"}}
[debug] QUERY OK source="posts" db=0.4ms
INSERT INTO "posts" ("title","inserted_at") VALUES ($1,$2) RETURNING "id" ["x", ~N[2024-05-01 12:00:00]]
[debug] Replied in 3ms
"""
    assert [(r.label, r.duration, r.query_count) for r in requests(text)] == [
        ("MOUNT BlogWeb.PostLive.Index", "1.5ms", 1), ('HANDLE EVENT "save" BlogWeb.PostLive.Index', "3ms", 1)]
    assert queries(text)[1].params == '["x", ~N[2024-05-01 12:00:00]]'


def test_sequential_requests_without_ids_do_not_absorb_each_other():
    text = """[info] GET /a
[info] GET /b
[debug] QUERY OK source="t" db=1.0ms
SELECT 1 FROM "t" AS t0 []
[info] Sent 200 in 1ms
"""
    rs = requests(text)
    assert [(r.label, r.ended, r.query_count) for r in rs] == [("GET /a", False, 0), ("GET /b", True, 1)]


def test_queries_between_requests_form_one_unit():
    text = """[debug] QUERY OK source="jobs" db=1.0ms
SELECT j0."id" FROM "oban_jobs" AS j0 []
[debug] QUERY OK source="jobs" db=1.0ms
SELECT j0."id" FROM "oban_jobs" AS j0 []
[info] GET /a
[info] Sent 200 in 1ms
"""
    rs = requests(text)
    assert rs[0].label == "outside requests" and rs[0].query_count == 2


def test_transactions_and_errors():
    text = """[debug] QUERY OK db=0.1ms
begin []
[debug] QUERY ERROR source="users" db=0.3ms
INSERT INTO "users" ("email") VALUES ($1) RETURNING "id" ["a@b.c"]
↳ Accounts.register/1, at: lib/accounts.ex:9
[debug] QUERY OK db=0.1ms
rollback []
[error] ** (Postgrex.Error) ERROR 23505 (unique_violation) duplicate key value violates unique constraint "users_email_index"
"""
    qs = queries(text)
    assert [(q.sql, q.status) for q in qs] == [("begin", "OK"), ('INSERT INTO "users" ("email") VALUES ($1) RETURNING "id"',
                                                                  "ERROR"), ("rollback", "OK")]
    assert qs[1].error.startswith("ERROR 23505 (unique_violation)")


def test_truncated_messages_keep_what_is_there():
    text = """[debug] QUERY OK source="posts" db=3.0ms
SELECT p0."id" FROM "posts" AS p0 WHERE (p0."id" = ANY($1)) [[1, 2, 3, 4 (truncated)
[debug] QUERY OK source="posts" db=3.0ms
"""
    (q,) = queries(text)
    assert q.truncated and q.sql.startswith('SELECT p0."id"') and q.call_site is None


def test_ecto_dev_logger_inlined_and_multi_line():
    text = f"""[debug] QUERY OK source="users" repo=MyApp.Repo db=1.2ms decode=0.1ms
SELECT u0."id", u0."email" FROM "users" AS u0
WHERE (u0."id" = {ESC}[38;5;31m42{ESC}[36m) AND (u0."email" = {ESC}[38;5;31m'a@b.c'{ESC}[36m)
↳ MyApp.Accounts.get!/1, at: lib/my_app/accounts.ex:10
"""
    (q,) = queries(text)
    assert q.inlined and q.params is None and q.db_ms == 1.2 and q.decode_ms == 0.1
    assert q.sql == "SELECT u0.\"id\", u0.\"email\" FROM \"users\" AS u0\nWHERE (u0.\"id\" = 42) AND (u0.\"email\" = 'a@b.c')"
    assert q.call_site == "lib/my_app/accounts.ex:10"


def test_metadata_formats_and_levels():
    text = """2024-05-01 12:00:00.123 request_id=Fx1 user_id=7 [debug] QUERY OK source="t" db=1.0ms
SELECT 1 FROM "t" AS t0 []
12:00:00.124 [warning] something unrelated
"""
    (q,) = queries(text)
    assert q.sql == 'SELECT 1 FROM "t" AS t0' and q.request == "request_id=Fx1"


@pytest.mark.parametrize("line, sql, params", [
    ('SELECT a FROM "t" AS t0 WHERE (t0."x" = $1) [[1, 2], "a [b] c"]', 'SELECT a FROM "t" AS t0 WHERE (t0."x" = $1)',
     '[[1, 2], "a [b] c"]'),
    ("SELECT a FROM t WHERE b = 'x [1]' AND c = $1 [5]", "SELECT a FROM t WHERE b = 'x [1]' AND c = $1", "[5]"),
    ("commit []", "commit", "[]"),
    ('SELECT arr[1] FROM t', 'SELECT arr[1] FROM t', None),
])
def test_split_params(line, sql, params):
    assert split_params(line) == (sql, params)


def test_garbage_binary_and_random_cuts_never_crash():
    rng = random.Random(3)
    lines = DEV_REQUEST.splitlines(True) * 30
    for _ in range(200):
        mutated = list(lines)
        for _ in range(rng.randint(1, 20)):
            i = rng.randrange(len(mutated))
            choice = rng.random()
            if choice < 0.3:
                mutated[i] = mutated[i][: rng.randrange(len(mutated[i]) + 1)]
            elif choice < 0.5:
                del mutated[i]
            elif choice < 0.7:
                mutated.insert(i, bytes(rng.randrange(256) for _ in range(40)).decode("latin-1") + "\n")
            else:
                mutated[i], mutated[-1] = mutated[-1], mutated[i]
        for event in read_lines(mutated):
            assert isinstance(event, (LoggedQuery, Request))


def test_read_file_binary_junk_gzip_and_crlf(tmp_path):
    path = tmp_path / "dev.log"
    path.write_bytes(b"\x00\xff\xfe\x80 junk\r\n" + DEV_REQUEST.replace("\n", "\r\n").encode() + b"\xc3")
    (q,) = [e for e in read_file(path) if isinstance(e, LoggedQuery)]
    assert q.params == "[42]" and q.call_site.endswith("post_controller.ex:20")
    gz = tmp_path / "dev.log.1.gz"
    gz.write_bytes(gzip.compress(DEV_REQUEST.encode()))
    assert [e.params for e in read_file(gz) if isinstance(e, LoggedQuery)] == ["[42]"]


def test_a_huge_line_is_cut_not_held(tmp_path):
    path = tmp_path / "dev.log"
    with open(path, "wb") as out:
        out.write(b"[debug] QUERY OK db=1.0ms\nSELECT " + b"x" * (5 << 20) + b" []\n")
        out.write(DEV_REQUEST.encode())
    qs = [e for e in read_file(path) if isinstance(e, LoggedQuery)]
    assert len(qs) == 2 and len(qs[0].sql) <= (1 << 20) + (1 << 20)
    assert qs[1].params == "[42]"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such log file"):
        list(read_file(tmp_path / "nope.log"))
    with pytest.raises(InputError, match="is a directory"):
        list(read_file(tmp_path))


def test_a_cut_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress((DEV_REQUEST * 2000).encode())
    path = tmp_path / "dev.log.gz"
    path.write_bytes(data[: len(data) // 2])
    qs = [e for e in read_file(path) if isinstance(e, LoggedQuery)]
    assert 0 < len(qs) < 2000
    corrupt = tmp_path / "bad.log.gz"
    corrupt.write_bytes(data[:20] + b"\x00" * 50 + data[70:])
    list(read_file(corrupt))  # no exception
