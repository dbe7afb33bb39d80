from __future__ import annotations

from typing import Iterable

from tools.explain.ecto_fix import execute_migration, quote_ident
from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    base_type,
    clamp,
    fmt_pct,
    fmt_rows,
    label,
    rows_seen,
    share,
    share_text,
)
from tools.explain.plan import Plan, PlanNode

MIN_BLOCKS = 1000
SEQ_ROWS_PER_BLOCK = 4.0  # TOAST keeps heap tuples under ~2 kB, so a healthy page holds 4+
INDEX_BLOCKS_PER_LOOP = 4.0  # a btree descent: root, inner, leaf pages, and a spare
INDEX_ROWS_PER_LEAF = 50  # even wide keys fit 50 to a leaf page; bigints fit ~400
INDEX_SLACK = 4.0  # read more than 4x what that explains before calling it waste
BITMAP_ROWS_PER_BLOCK = 0.5


class ReadEfficiency(Rule):
    """Fires on a scan that read at least 1,000 blocks (its own buffers, hits and reads) that
    its rows cannot explain - the signature of dead rows and bloat:

    - Seq Scan: fewer than 1 row looked at (returned + filtered) per block read. Even rows of
      ~2 kB (the TOAST threshold) fit 4 to a page, so <1 means pages are mostly dead space -
      or that large TOASTed values are being detoasted, which the evidence mentions.
    - Index Scan / Index Only Scan: more than 4x the blocks explained by 4 per descent (loops),
      one leaf page per 50 rows, and one heap block per row (per heap fetch for an index-only
      scan): the index keeps leading to dead rows.
    - Bitmap Heap Scan: fewer than 0.5 rows per heap block visited (exact + lossy).

    pgMustard keeps this threshold very low; here the bars are set where bloat is near-certain,
    because the fix (VACUUM, repack) has operational cost.

    Score: the scan's share of the time (or, without timing, of the blocks) x the excess share
    of blocks (1 - explained / read). Needs BUFFERS; plans without them are skipped.
    """

    id = "read-efficiency"
    title = "Scan reads far more pages than its rows need"
    detects = "A scan that touched many more pages than the rows it looked at can account for."
    why = (
        "Pages full of dead row versions (from updates and deletes that VACUUM has not cleaned "
        "up), or bloated indexes, make every scan read more data for the same rows; the cost "
        "grows with churn, not with the data."
    )
    fix = (
        "Check pg_stat_user_tables.n_dead_tup; VACUUM the table and make autovacuum visit it "
        "more often; to give space back, pg_repack (online) or VACUUM FULL (locks the table); "
        "REINDEX CONCURRENTLY a bloated index; look for long-running transactions holding back cleanup."
    )
    examples = [
        Example(
            note="a queue table: 120 live rows spread over 40,000 pages",
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "jobs", "Alias": "jobs",
                    "Startup Cost": 0.0, "Total Cost": 40001.2, "Plan Rows": 120, "Plan Width": 200,
                    "Actual Startup Time": 80.0, "Actual Total Time": 95.0, "Actual Rows": 100, "Actual Loops": 1,
                    "Filter": "((state)::text = 'available'::text)", "Rows Removed by Filter": 20,
                    "Shared Hit Blocks": 12000, "Shared Read Blocks": 28000, "Shared Dirtied Blocks": 0,
                    "Shared Written Blocks": 0, "Local Hit Blocks": 0, "Local Read Blocks": 0,
                    "Local Dirtied Blocks": 0, "Local Written Blocks": 0, "Temp Read Blocks": 0,
                    "Temp Written Blocks": 0,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 95.2,
            }],
            fires=True, relation="jobs",
        ),
        Example(
            note="a healthy table: about 60 rows per page",
            plan=[{
                "Plan": {
                    "Node Type": "Seq Scan", "Parallel Aware": False, "Relation Name": "tickets",
                    "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 5300.0, "Plan Rows": 200000,
                    "Plan Width": 43, "Actual Startup Time": 0.01, "Actual Total Time": 20.0,
                    "Actual Rows": 200000, "Actual Loops": 1,
                    "Shared Hit Blocks": 3300, "Shared Read Blocks": 0, "Shared Dirtied Blocks": 0,
                    "Shared Written Blocks": 0, "Local Hit Blocks": 0, "Local Read Blocks": 0,
                    "Local Dirtied Blocks": 0, "Local Written Blocks": 0, "Temp Read Blocks": 0,
                    "Temp Written Blocks": 0,
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 25.0,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        for node in plan.nodes:
            if not node.analyzed or node.never_executed:
                continue
            found = _excess(node)
            if found is None:
                continue
            blocks, explained, why = found
            excess = clamp(1.0 - explained / blocks)
            node_share, basis = share(plan, node)
            yield self.insight(
                title=f"{label(node)} read {fmt_rows(blocks)} blocks for {fmt_rows(rows_seen(node))} rows",
                score=node_share * excess,
                node=node,
                relation=node.relation,
                evidence=(
                    f"{label(node)} touched {fmt_rows(blocks)} blocks while looking at "
                    f"{fmt_rows(rows_seen(node))} rows"
                    f"{_loops(node)}; {why}, so about {fmt_pct(excess)} of the reads look like dead rows "
                    f"or bloat. The scan is {share_text(node_share, basis)}."
                ),
                fix=_fix(node),
            )


def _loops(node: PlanNode) -> str:
    return f" over {fmt_rows(node.loops)} loops" if node.loops > 1 else ""


def _excess(node: PlanNode) -> tuple[float, float, str] | None:
    """(blocks read, blocks the rows explain, the expectation in words), or None if efficient."""
    kind = base_type(node)
    seen = rows_seen(node)
    if kind == "Seq Scan":
        blocks = node.exclusive_buffers.total_read
        if blocks < MIN_BLOCKS or seen >= blocks:
            return None
        return blocks, seen / SEQ_ROWS_PER_BLOCK, (
            "a healthy table holds at least 4 rows per page (unless large values are being "
            "read from TOAST)"
        )
    if kind in ("Index Scan", "Index Only Scan"):
        blocks = node.exclusive_buffers.total_read
        if kind == "Index Only Scan":
            fetches = node.get("Heap Fetches")
            heap = float(fetches) if isinstance(fetches, (int, float)) else seen
        else:
            heap = seen
        explained = max(node.loops, 1.0) * INDEX_BLOCKS_PER_LOOP + seen / INDEX_ROWS_PER_LEAF + heap
        if blocks < MIN_BLOCKS or blocks <= INDEX_SLACK * explained:
            return None
        return blocks, explained, (
            "an index lookup needs a few pages per descent, a leaf page per 50 or so rows, and at "
            "most one table page per row"
        )
    if kind == "Bitmap Heap Scan":
        exact, lossy = node.get("Exact Heap Blocks"), node.get("Lossy Heap Blocks")
        heap_blocks = sum(float(v) for v in (exact, lossy) if isinstance(v, (int, float)))
        if heap_blocks < MIN_BLOCKS or seen >= BITMAP_ROWS_PER_BLOCK * heap_blocks:
            return None
        return heap_blocks, max(seen, 1.0), "each page the bitmap points at should hold a matching row"
    return None


def _fix(node: PlanNode) -> Fix:
    if not node.relation:
        return Fix()
    table = node.relation
    t = quote_ident(table)
    lines = [
        "-- how much of the table is dead rows, and when autovacuum last ran:",
        f"SELECT n_live_tup, n_dead_tup, last_autovacuum FROM pg_stat_user_tables WHERE relname = '{table}';",
        f"VACUUM (ANALYZE, VERBOSE) {t};",
        "-- to give the space back: pg_repack (online), or VACUUM FULL (takes an exclusive lock)",
    ]
    if node.index_name and base_type(node) in ("Index Scan", "Index Only Scan"):
        lines.append(f"REINDEX INDEX CONCURRENTLY {quote_ident(node.index_name)};")
    lines.append(f"ALTER TABLE {t} SET (autovacuum_vacuum_scale_factor = 0.02);")
    ecto = (
        f'Repo.query!("VACUUM (ANALYZE) {t}")  # outside a transaction\n\n'
        + execute_migration(
            f"tune_{table}_autovacuum",
            [f"ALTER TABLE {t} SET (autovacuum_vacuum_scale_factor = 0.02)"],
            [f"ALTER TABLE {t} RESET (autovacuum_vacuum_scale_factor)"],
        )
    )
    return Fix(sql="\n".join(lines), ecto=ecto)
