"""`ecto-optimizer demo`: the main job on an embedded database, from nothing.

It starts a private PostgreSQL cluster, loads a helpdesk app's schema as its Ecto migrations
would create it (foreign keys without indexes, as happens in real apps), fills it with skewed,
realistic data, runs the app's queries as Ecto sends them, asks pg_stat_statements which one is
slowest, and explains that one. Nothing is staged: the diagnosis printed is what the tools find.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
import typer

SCHEMA = """
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name varchar(255) NOT NULL,
  plan varchar(255) NOT NULL DEFAULT 'free',
  inserted_at timestamp(0) NOT NULL,
  updated_at timestamp(0) NOT NULL
);
CREATE TABLE tickets (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  subject varchar(255) NOT NULL,
  body text,
  status varchar(255) NOT NULL DEFAULT 'open',
  priority integer NOT NULL DEFAULT 0,
  inserted_at timestamp(0) NOT NULL,
  updated_at timestamp(0) NOT NULL
);
CREATE TABLE comments (
  id bigserial PRIMARY KEY,
  ticket_id bigint NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
  body text NOT NULL,
  inserted_at timestamp(0) NOT NULL,
  updated_at timestamp(0) NOT NULL
);
"""

# Big customers own most tickets (a power law), as in any B2B helpdesk.
DATA = """
INSERT INTO customers (name, plan, inserted_at, updated_at)
SELECT 'Customer ' || g, (ARRAY['free','team','business'])[1 + g % 3],
       now() - make_interval(days => g % 900), now()
FROM generate_series(1, 2000) g;
INSERT INTO tickets (customer_id, subject, body, status, priority, inserted_at, updated_at)
SELECT 1 + floor(2000 * power(random(), 3))::bigint, 'Ticket ' || g, repeat('lorem ipsum ', 20),
       (ARRAY['open','pending','solved','closed','closed','closed'])[1 + g % 6], g % 4,
       now() - make_interval(mins => g), now()
FROM generate_series(1, 300000) g;
INSERT INTO comments (ticket_id, body, inserted_at, updated_at)
SELECT 1 + (g::bigint * 7919) % 300000, 'Thanks, looking into it.', now() - make_interval(mins => g), now()
FROM generate_series(1, 400000) g;
ANALYZE;
"""


@dataclass
class AppQuery:
    name: str
    sql: str
    params: list


APP_QUERIES = [
    AppQuery("customer page", 'SELECT c0."id", c0."name", c0."plan", c0."inserted_at", c0."updated_at" '
             'FROM "customers" AS c0 WHERE (c0."id" = $1)', [1]),
    AppQuery("tickets list", 'SELECT t0."id", t0."customer_id", t0."subject", t0."status", t0."priority", '
             't0."inserted_at", t0."updated_at" FROM "tickets" AS t0 WHERE (t0."customer_id" = $1) '
             'ORDER BY t0."inserted_at" DESC LIMIT 50', [1]),
    AppQuery("status counts", 'SELECT t0."status", count(t0."id") FROM "tickets" AS t0 '
             'WHERE (t0."customer_id" = $1) GROUP BY t0."status"', [1]),
    AppQuery("comments preload", 'SELECT c0."id", c0."body", c0."ticket_id", c0."inserted_at", c0."updated_at", '
             'c0."ticket_id" FROM "comments" AS c0 WHERE (c0."ticket_id" = ANY($1)) ORDER BY c0."ticket_id"',
             [list(range(1, 51))]),
]


def load(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(DATA)


def slowest_query(url: str, rounds: int = 5) -> tuple[AppQuery, float]:
    """Run the app's queries, then ask pg_stat_statements which one costs the most in total."""
    from tools.db.connect import bind_like_ecto

    with bind_like_ecto(psycopg.connect(url, autocommit=True)) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        with psycopg.RawCursor(conn) as cur:
            for _ in range(rounds):
                for q in APP_QUERIES:
                    cur.execute(q.sql, q.params)
                    cur.fetchall()
        rows = conn.execute(
            "SELECT query, total_exec_time, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC"
        ).fetchall()
    by_text = {q.sql: q for q in APP_QUERIES}
    for text, total, calls in rows:
        if text in by_text:
            return by_text[text], total / calls
    raise RuntimeError("pg_stat_statements recorded none of the demo queries")


def run_demo(keep: bool = False) -> None:
    from rich.console import Console

    from tools.db.server import LocalPostgres
    from tools.explain.tool import explain_query

    console = Console(stderr=True)
    server = LocalPostgres()
    try:
        with console.status("Starting a private PostgreSQL server…"):
            server.start()
            url = server.create_database("helpdesk")
        with console.status("Loading the helpdesk schema and 700,000 rows…"):
            t0 = time.monotonic()
            load(url)
        console.print(f"[green]✓[/] database ready in {time.monotonic() - t0:.1f} s")
        with console.status("Running the app's queries and reading pg_stat_statements…"):
            query, mean_ms = slowest_query(url)
        console.print(f"[green]✓[/] slowest query: [bold]{query.name}[/] ({mean_ms:.1f} ms on average)")
        with console.status("Explaining it (EXPLAIN ANALYZE in a rolled-back transaction)…"):
            report = explain_query(query.sql, query.params, url)
        typer.echo(report.text())
        if keep:
            console.print(f"database left running: {url}")
    finally:
        if not keep:
            server.stop()
