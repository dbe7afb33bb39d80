from __future__ import annotations

import re
from typing import Iterable

from tools.explain.ecto_fix import index_fix
from tools.explain.findings import Fix, Insight
from tools.explain.insights.base import Example, Rule, clamp, fmt_ms, fmt_pct, fmt_rows, total_ms
from tools.explain.plan import Plan, Trigger

MIN_SHARE = 0.1


class SlowTrigger(Rule):
    """Fires on each trigger whose time is at least 10% of the query's total time (Execution
    Time, which includes triggers; without it, the root's time plus all trigger time).
    Trigger time is in no plan node, so nothing else in the plan would show it.

    Score: trigger time / total time.

    For a foreign-key action trigger (`RI_ConstraintTrigger_a_*`, or a `Constraint Name` ending in
    `_fkey` on a table other than the constraint's), the fix is an index on the referencing
    column, read from the constraint name `<table>_<column>_fkey` (Ecto's default). When the name
    splits more than one way, the column is the one named after the trigger's table
    (`order_id` for `orders`), else the split whose column ends in `_id` with the longest table.
    """

    id = "slow-trigger"
    title = "Trigger takes a large share of the time"
    detects = "Trigger time (reported after the plan, outside every node) that is a large share of the query."
    why = (
        "Triggers run once per affected row. A foreign key's ON DELETE/UPDATE check must find the "
        "referencing rows in the child table; without an index on the referencing column, each "
        "deleted parent row scans the whole child table."
    )
    fix = (
        "For a foreign-key trigger, index the referencing column (Ecto does not create that "
        "index for `references/2`). For other triggers, make the trigger function cheaper or "
        "do its work in batches."
    )
    examples = [
        Example(
            plan=[{
                "Plan": {
                    "Node Type": "ModifyTable", "Operation": "Delete", "Parallel Aware": False,
                    "Relation Name": "customers", "Alias": "customers", "Startup Cost": 0.28, "Total Cost": 8.3,
                    "Plan Rows": 1, "Plan Width": 6, "Actual Startup Time": 0.05, "Actual Total Time": 0.05,
                    "Actual Rows": 0, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Index Scan", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Scan Direction": "Forward", "Index Name": "customers_pkey", "Relation Name": "customers",
                        "Alias": "customers", "Startup Cost": 0.28, "Total Cost": 8.3, "Plan Rows": 1,
                        "Plan Width": 6, "Actual Startup Time": 0.02, "Actual Total Time": 0.02,
                        "Actual Rows": 1, "Actual Loops": 1, "Index Cond": "(id = 42)",
                    }],
                },
                "Planning Time": 0.1,
                "Triggers": [{
                    "Trigger Name": "RI_ConstraintTrigger_a_16440", "Constraint Name": "tickets_customer_id_fkey",
                    "Relation": "customers", "Time": 31.5, "Calls": 1,
                }],
                "Execution Time": 31.6,
            }],
            fires=True, relation="tickets", columns=["customer_id"],
        ),
        Example(
            note="a trigger that costs a fraction of the statement",
            plan=[{
                "Plan": {
                    "Node Type": "ModifyTable", "Operation": "Insert", "Parallel Aware": False,
                    "Relation Name": "tickets", "Alias": "tickets", "Startup Cost": 0.0, "Total Cost": 0.01,
                    "Plan Rows": 1, "Plan Width": 40, "Actual Startup Time": 2.0, "Actual Total Time": 2.0,
                    "Actual Rows": 0, "Actual Loops": 1,
                    "Plans": [{
                        "Node Type": "Result", "Parent Relationship": "Outer", "Parallel Aware": False,
                        "Startup Cost": 0.0, "Total Cost": 0.01, "Plan Rows": 1, "Plan Width": 40,
                        "Actual Startup Time": 0.01, "Actual Total Time": 0.01, "Actual Rows": 1, "Actual Loops": 1,
                    }],
                },
                "Planning Time": 0.1,
                "Triggers": [{
                    "Trigger Name": "RI_ConstraintTrigger_c_16442", "Constraint Name": "tickets_customer_id_fkey",
                    "Relation": "tickets", "Time": 0.05, "Calls": 1,
                }],
                "Execution Time": 2.1,
            }],
            fires=False,
        ),
    ]

    def check(self, plan: Plan, min_score: float = 0.0) -> Iterable[Insight]:
        total = total_ms(plan)
        if not total or total <= 0:
            return
        for trig in plan.triggers:
            if trig.time_ms is None:
                continue
            part = clamp(trig.time_ms / total)
            if part < MIN_SHARE:
                continue
            fk = _referencing(trig)
            calls = f" over {fmt_rows(trig.calls)} call{'s' if trig.calls != 1 else ''}" if trig.calls else ""
            on = f" on {trig.relation}" if trig.relation else ""
            if fk:
                table, column = fk
                evidence = (
                    f"Trigger {trig.name}{on} (foreign key {trig.constraint_name}) took {fmt_ms(trig.time_ms)}"
                    f"{calls}, {fmt_pct(part)} of the query time. Each call looks up referencing rows in "
                    f"{table}.{column}; without an index on it, every call scans {table}."
                )
                fix = index_fix(table, [column])
                yield self.insight(
                    title=f"Foreign-key trigger for {trig.constraint_name} takes {fmt_pct(part)} of the time",
                    score=part, relation=table, columns=[column], evidence=evidence, fix=fix,
                )
                continue
            fk_check = _is_fk(trig)
            evidence = (
                f"Trigger {trig.name}{on} took {fmt_ms(trig.time_ms)}{calls}, {fmt_pct(part)} of the query time."
                + (
                    " It checks that each new or changed row's parent exists; that lookup uses the "
                    "parent's primary key, so its cost is the number of rows written."
                    if fk_check
                    else ""
                )
            )
            yield self.insight(
                title=f"Trigger {trig.name} takes {fmt_pct(part)} of the time",
                score=part,
                relation=trig.relation,
                evidence=evidence,
                fix=Fix(),
            )


def _is_fk(trig: Trigger) -> bool:
    return trig.name.startswith("RI_ConstraintTrigger") or bool(
        trig.constraint_name and trig.constraint_name.endswith("_fkey")
    )


def _referencing(trig: Trigger) -> tuple[str, str] | None:
    """(referencing table, column) for a foreign-key *action* trigger, else None.

    `RI_ConstraintTrigger_a_*` fire on the referenced (parent) table when its rows are deleted or
    updated; `_c_` ones check new child rows against the parent and need no extra index.
    """
    name = trig.constraint_name or ""
    if not name.endswith("_fkey"):
        return None
    if trig.name.startswith("RI_ConstraintTrigger_c_"):
        return None
    split = split_fkey_name(name, parent=trig.relation)
    if split is None:
        return None
    table, column = split
    if not trig.name.startswith("RI_ConstraintTrigger_a_") and trig.relation == table:
        return None  # fired on the child table itself: a check, not an action
    return table, column


def split_fkey_name(name: str, *, parent: str | None = None) -> tuple[str, str] | None:
    """`tickets_customer_id_fkey` -> ("tickets", "customer_id")."""
    stem = name[: -len("_fkey")] if name.endswith("_fkey") else name
    parts = stem.split("_")
    if len(parts) < 2:
        return None
    splits = [("_".join(parts[:i]), "_".join(parts[i:])) for i in range(1, len(parts))]
    if parent:
        wanted = {f"{parent}_id", f"{_singular(parent)}_id"}
        for table, column in splits:
            if column in wanted:
                return table, column
    with_id = [(t, c) for t, c in splits if c.endswith("_id")]
    if with_id:
        return max(with_id, key=lambda s: len(s[0]))
    return splits[-1]


def _singular(word: str) -> str:
    if re.search(r"[^aeiou]ies$", word):
        return word[:-3] + "y"
    if re.search(r"(ss|x|ch|sh)es$", word):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
