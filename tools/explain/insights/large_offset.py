from __future__ import annotations

import re
from typing import Iterable

from pglast import ast, parse_sql

from tools.explain.ecto_fix import index_sql, is_column_name, quote_ident
from tools.explain.exprs import sort_keys
from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import (
    Example,
    Rule,
    clamp,
    fmt_ms,
    fmt_pct,
    fmt_rows,
    relations_below,
    share,
    share_text,
    total_ms,
)
from tools.explain.plan import Plan, PlanNode

MIN_SKIPPED = 1000
MIN_RATIO = 10.0  # rows read per row kept
_OFFSET = re.compile(r"\boffset\b", re.IGNORECASE)
# Nodes between a Limit and the node that defines the order.
_PASS_THROUGH = {"Subquery Scan", "Result", "Gather Merge", "Gather", "Materialize", "Unique", "Nested Loop"}


class LargeOffset(Rule):
    """Fires on a Limit whose input produced at least 1,000 rows more than it kept and at least
    10x as many, when there is an OFFSET: in the query text when the plan carries it, or in the
    plan itself - PostgreSQL adds the cost of skipping the offset rows to the Limit's startup
    cost, so a Limit starting later than its input has an OFFSET (a `$n` one included).

    Score: the Limit's subtree time x the share of its input it threw away / the query's total
    time (keyset pagination reads only the rows it returns). Without timing, the subtree's
    share of the cost x the same fraction.

    The sort order comes from the query's ORDER BY when the plan has the query text, else from
    the Sort below the Limit; the rewrite adds `id` as a tie-breaker, assuming the usual primary key.
    """

    id = "large-offset"
    title = "OFFSET reads and discards rows"
    detects = "A LIMIT ... OFFSET query whose offset made PostgreSQL produce and throw away many rows."
    why = (
        "OFFSET n does not skip rows for free: every skipped row is read, joined and sorted before "
        "being discarded, so each later page is slower than the one before it."
    )
    fix = (
        "Use keyset (seek) pagination: order by a unique key, remember the last row of the page, "
        "and ask for rows after it (`where: p.id > ^last_id`), with an index on the sort key."
    )
    examples = [
        Example(
            plan={
                "Query Text": "SELECT * FROM posts ORDER BY id LIMIT 50 OFFSET 100000",
                "Plan": {
                    "Node Type": "Limit", "Parallel Aware": False, "Startup Cost": 3400.5, "Total Cost": 3402.2,
                    "Plan Rows": 50, "Plan Width": 200, "Actual Startup Time": 48.0, "Actual Total Time": 48.1,
                    "Actual Rows": 50, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Index Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Scan Direction": "Forward", "Index Name": "posts_pkey", "Relation Name": "posts",
                        "Alias": "posts", "Startup Cost": 0.42, "Total Cost": 6800.0, "Plan Rows": 200000,
                        "Plan Width": 200, "Actual Startup Time": 0.02, "Actual Total Time": 44.0,
                        "Actual Rows": 100050, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Execution Time": 48.2,
            },
            fires=True, relation="posts", columns=["id"],
        ),
        Example(
            note="no query text: the OFFSET shows in the Limit's startup cost",
            plan=[{
                "Plan": {
                    "Node Type": "Limit", "Parallel Aware": False, "Startup Cost": 21000.0, "Total Cost": 21000.1,
                    "Plan Rows": 20, "Plan Width": 43, "Actual Startup Time": 160.0, "Actual Total Time": 160.1,
                    "Actual Rows": 20, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Sort", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Startup Cost": 20900.0, "Total Cost": 21400.0, "Plan Rows": 200000, "Plan Width": 43,
                        "Actual Startup Time": 120.0, "Actual Total Time": 150.0, "Actual Rows": 60020,
                        "Actual Loops": 1, "Sort Key": ["tickets.created_at DESC"],
                        "Sort Method": "quicksort", "Sort Space Used": 25000, "Sort Space Type": "Memory",
                        "Plans": [{
                            "Node Type": "Seq Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                            "Relation Name": "tickets", "Alias": "tickets", "Startup Cost": 0.0,
                            "Total Cost": 3500.0, "Plan Rows": 200000, "Plan Width": 43,
                            "Actual Startup Time": 0.01, "Actual Total Time": 20.0, "Actual Rows": 200000,
                            "Actual Loops": 1,
                        }],
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 161.0,
            }],
            fires=True, relation="tickets", columns=["created_at"],
        ),
        Example(
            note="a plain LIMIT: the input stops once the limit is reached",
            plan=[{
                "Plan": {
                    "Node Type": "Limit", "Parallel Aware": False, "Startup Cost": 0.42, "Total Cost": 2.1,
                    "Plan Rows": 50, "Plan Width": 200, "Actual Startup Time": 0.02, "Actual Total Time": 0.05,
                    "Actual Rows": 50, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Index Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Scan Direction": "Forward", "Index Name": "posts_pkey", "Relation Name": "posts",
                        "Alias": "posts", "Startup Cost": 0.42, "Total Cost": 6800.0, "Plan Rows": 200000,
                        "Plan Width": 200, "Actual Startup Time": 0.02, "Actual Total Time": 0.04,
                        "Actual Rows": 50, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1, "Triggers": [], "Execution Time": 0.06,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        query_offset = bool(plan.query_text and _OFFSET.search(plan.query_text))
        for node in plan.nodes:
            if node.raw_node_type != "Limit" or not node.analyzed or node.never_executed:
                continue
            children = plan.children(node)
            if not children:
                continue
            child = children[0]
            read = child.actual_rows_total or 0.0
            kept = node.actual_rows_total or 0.0
            skipped = read - kept
            if skipped < MIN_SKIPPED or read < MIN_RATIO * max(kept, 1.0):
                continue
            if not (query_offset or node.startup_cost > child.startup_cost + 1e-9):
                continue
            fraction = skipped / read
            node_share, basis = _subtree_share(plan, node)
            order, relation = _order(plan, node)
            took = f" in {fmt_ms(node.inclusive_ms)}, " if node.inclusive_ms is not None else ", "
            yield self.insight(
                title=f"OFFSET made PostgreSQL read {fmt_rows(read)} rows to return {fmt_rows(kept)}",
                score=node_share * fraction,
                node=node,
                relation=relation,
                columns=[c for c, _ in order],
                evidence=(
                    f"The Limit's input produced {fmt_rows(read)} rows and the Limit kept {fmt_rows(kept)}: "
                    f"{fmt_rows(skipped)} rows ({fmt_pct(fraction)}) were produced only to be skipped{took}"
                    f"{share_text(node_share, basis)}."
                ),
                fix=_fix(relation, order, int(node.plan_rows or kept or 50)),
            )


def _subtree_share(plan: Plan, node: PlanNode) -> tuple[float, str]:
    total = total_ms(plan)
    if total and node.inclusive_ms is not None:
        return clamp(node.inclusive_ms / total), "time"
    return share(plan, node, inclusive=True)


def _order(plan: Plan, limit: PlanNode) -> tuple[list[tuple[str, str]], str | None]:
    """The pagination order as (column, direction) and the table, best source first."""
    from_query = _order_from_query(plan.query_text) if plan.query_text else None
    rels = relations_below(plan, limit)
    relation = rels[0] if len(rels) == 1 else None
    if from_query and from_query[0]:
        return from_query[0], from_query[1] or relation
    node = limit
    while True:
        kids = plan.children(node)
        if not kids:
            break
        node = kids[0]
        if node.raw_node_type in ("Sort", "Incremental Sort"):
            alias = next((n.alias for n in plan.descendants(node) if n.relation), None)
            keys = node.get("Sort Key")
            return sort_keys(keys if isinstance(keys, list) else [], alias=alias, relation=relation), relation
        if node.raw_node_type not in _PASS_THROUGH:
            break
    return [], relation


def _order_from_query(sql: str) -> tuple[list[tuple[str, str]], str | None] | None:
    try:
        stmts = parse_sql(sql)
    except Exception:
        return None
    for raw in stmts:
        stmt = raw.stmt
        if not isinstance(stmt, ast.SelectStmt) or stmt.limitOffset is None:
            continue
        order: list[tuple[str, str]] = []
        for sortby in stmt.sortClause or ():
            node = sortby.node
            if isinstance(node, ast.ColumnRef) and all(isinstance(f, ast.String) for f in node.fields):
                order.append((node.fields[-1].sval, "desc" if int(sortby.sortby_dir) == 2 else "asc"))
            else:
                return [], None  # an expression order: the generic rewrite is the honest answer
        relation = None
        if stmt.fromClause and len(stmt.fromClause) == 1 and isinstance(stmt.fromClause[0], ast.RangeVar):
            relation = stmt.fromClause[0].relname
        return order, relation
    return None


def _schema_module(table: str) -> str:
    if table.endswith("ies"):
        singular = table[:-3] + "y"
    elif table.endswith("s") and not table.endswith("ss"):
        singular = table[:-1]
    else:
        singular = table
    return "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", singular) if p) or "Row"


def _fix(relation: str | None, order: list[tuple[str, str]], page: int) -> Fix:
    keys = [(c, d) for c, d in order if is_column_name(c)]
    if len(keys) != len(order) or not keys:
        keys = [("id", "asc")]  # an expression order (or none known): the generic rewrite
    if all(c != "id" for c, _ in keys):
        keys.append(("id", keys[-1][1]))  # a unique tie-breaker, so no row is skipped or repeated
    table = relation or "posts"
    var = table[0].lower() if table[0].isalpha() else "r"
    schema = _schema_module(table)
    cmp = {"asc": (">", ">"), "desc": ("<", "<")}

    # where: the row comes after the last one seen, column by column (works for mixed directions).
    ecto_terms, sql_terms = [], []
    for i, (col, direction) in enumerate(keys):
        op = cmp[direction][0]
        eq_ecto = [f"{var}.{c} == ^last.{c}" for c, _ in keys[:i]]
        eq_sql = [f"{quote_ident(c)} = ${j + 1}" for j, (c, _) in enumerate(keys[:i])]
        ecto_terms.append(" and ".join([*eq_ecto, f"{var}.{col} {op} ^last.{col}"]))
        sql_terms.append(" AND ".join([*eq_sql, f"{quote_ident(col)} {op} ${i + 1}"]))
    if len(keys) == 1:
        col = keys[0][0]
        ecto_where = f"{var}.{col} {cmp[keys[0][1]][0]} ^last_{col}"
        sql_where = sql_terms[0]
    else:
        ecto_where = " or ".join(f"({t})" if " and " in t else t for t in ecto_terms)
        sql_where = " OR ".join(f"({t})" if " AND " in t else t for t in sql_terms)
    key_cols = [c for c, _ in keys]
    order_ecto = ", ".join(f"{d}: {var}.{c}" for c, d in keys)
    order_sql = ", ".join(f"{quote_ident(c)}{' DESC' if d == 'desc' else ''}" for c, d in keys)
    pinned = f"last_{keys[0][0]}" if len(keys) == 1 else "last"
    ecto = "\n".join([
        "# Keyset pagination: instead of offset: page * size, continue after the last row shown",
        f"# (`{pinned}` comes from the last row of the previous page; the first page has no where).",
        f"from {var} in {schema},",
        f"  where: {ecto_where},",
        f"  order_by: [{order_ecto}],",
        f"  limit: {page}",
    ])
    sql = "\n".join([
        f"SELECT * FROM {quote_ident(table)}",
        f"WHERE {sql_where}  -- the last row of the previous page",
        f"ORDER BY {order_sql}",
        f"LIMIT {page};",
        "-- served by an index on the sort key (skip it if one exists, e.g. the primary key):",
        index_sql(table, key_cols) if key_cols != ["id"] else "-- the primary key already is one",
    ])
    return Fix(sql=sql, ecto=ecto)
