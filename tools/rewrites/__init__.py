"""Query rewrites: one opportunity per module, each documented like an insight rule, each
finding carrying rewrites that were run against the database before being proposed.

`suggest_rewrites` (tools/rewrites/tool.py) parses the query, reads the catalog, explains the
original, asks every opportunity for findings, and verifies every candidate: same rows on the
same params, and faster. An opportunity that fails on an odd query is skipped (logged) rather
than costing the user the others, unless `strict`.
"""

from __future__ import annotations

import logging
from typing import Any

from tools.rewrites.base import Detected, Opportunity, QueryContext
from tools.rewrites.correlated_subquery import CorrelatedSubquery
from tools.rewrites.count_total import CountTotal
from tools.rewrites.distinct_fanout import DistinctFanout
from tools.rewrites.in_subquery import InSubquery
from tools.rewrites.latest_per_group import LatestPerGroup
from tools.rewrites.not_in_nullable import NotInNullable
from tools.rewrites.offset_to_keyset import OffsetToKeyset
from tools.rewrites.unused_wide_columns import UnusedWideColumns

log = logging.getLogger(__name__)

OPPORTUNITIES: list[Opportunity] = [
    CorrelatedSubquery(),
    NotInNullable(),
    InSubquery(),
    OffsetToKeyset(),
    CountTotal(),
    UnusedWideColumns(),
    DistinctFanout(),
    LatestPerGroup(),
]


def find_all(q: QueryContext, *, strict: bool = False) -> list[Detected]:
    found: list[Detected] = []
    for opportunity in OPPORTUNITIES:
        try:
            found.extend(opportunity.find(q))
        except Exception:
            if strict:
                raise
            log.warning("rewrite opportunity %s failed on this query; skipped", opportunity.id, exc_info=True)
    return found


def catalogue() -> list[dict[str, Any]]:
    return [o.doc() for o in OPPORTUNITIES]


def opportunity(opportunity_id: str) -> Opportunity:
    for o in OPPORTUNITIES:
        if o.id == opportunity_id:
            return o
    raise KeyError(opportunity_id)
