import pytest

from tools.errors import InputError
from tools.explain.classify import Kind, classify


@pytest.mark.parametrize("sql, kind, verb", [
    ('SELECT u0."id" FROM "users" AS u0 WHERE (u0."id" = $1)', Kind.READ, "SELECT"),
    ("VALUES (1), (2)", Kind.READ, "SELECT"),
    ("(SELECT 1) UNION (SELECT 2)", Kind.READ, "SELECT"),
    ('UPDATE "users" SET "name" = $1 WHERE "id" = $2', Kind.WRITE, "UPDATE"),
    ('INSERT INTO "users" ("name") VALUES ($1) RETURNING "id"', Kind.WRITE, "INSERT"),
    ('DELETE FROM "users" AS u0 WHERE (u0."id" = $1)', Kind.WRITE, "DELETE"),
    ("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", Kind.WRITE, "SELECT"),
    ('SELECT j0."id" FROM "jobs" AS j0 LIMIT 1 FOR UPDATE SKIP LOCKED', Kind.WRITE, "SELECT"),
    ("SELECT 'DROP TABLE users' AS text -- DELETE", Kind.READ, "SELECT"),
])
def test_reads_and_writes_told_apart_by_the_parser(sql, kind, verb):
    stmt = classify(sql)
    assert (stmt.kind, stmt.verb) == (kind, verb)


def test_param_count_is_the_highest_placeholder():
    assert classify("SELECT * FROM t WHERE a = $1 AND b = $3").param_count == 3


def test_user_typed_explain_is_unwrapped():
    stmt = classify("EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t WHERE a = 1;")
    assert stmt.sql == "SELECT * FROM t WHERE a = 1"
    assert classify("explain analyze verbose update t set a = 1").kind is Kind.WRITE


@pytest.mark.parametrize("sql, fragment", [
    ("DROP TABLE users", "refusing to explain DROP"),
    ("CREATE INDEX ON users (email)", "refusing to explain CREATE"),
    ("ALTER TABLE users ADD COLUMN x int", "refusing to explain ALTER"),
    ("VACUUM users", "refusing to explain VACUUM"),
    ("COPY users TO STDOUT", "refusing to explain COPY"),
    ("SET work_mem = '1GB'", "refusing to explain SET"),
    ("BEGIN", "refusing to explain BEGIN"),
    ("TRUNCATE users", "refusing to explain TRUNCATE"),
    ("SELECT 1; SELECT 2", "one statement"),
    ("SELEC 1", "cannot parse"),
    ("", "no SQL"),
    ("SELECT * INTO copy FROM users", "creates a table"),
])
def test_everything_else_is_refused(sql, fragment):
    with pytest.raises(InputError) as exc:
        classify(sql)
    assert fragment in str(exc.value)
