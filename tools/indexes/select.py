"""Choosing the set of indexes for a whole workload, within a storage budget.

The objective is the workload's weighted cost, Σ calls × cost(q, C), plus what every index costs
the writes to its table. Selection follows Extend (Schlosser et al., index-advisors.md §6): grow
a configuration greedily, each step adding a candidate or extending a chosen index by a column
(the longer one replaces it), scored by benefit per extra byte, accepting a step only if it
improves the objective by more than 0.3 %. Because benefit per byte can favour many small indexes
over one that matters more (a knapsack), the same greedy also runs on absolute benefit, each
result is polished by swapping one index for another, and the better configuration wins.

Write overhead: each row inserted, and each row updated other than by a HOT update, adds one
entry to every btree on the table. On PostgreSQL 15 on this project's machines an entry costs
about 2-5 µs, while a cached sequential scan runs about 4-9 µs per planner cost unit, so an
entry is charged ENTRY_COST = 1 cost unit: the price of reading about one page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from tools.indexes.candidates import IndexDef, strip_direction
from tools.indexes.catalog import norm_key
from tools.indexes.costs import Evaluator
from tools.indexes.hypo import CandidateError

ENTRY_COST = 1.0
MIN_IMPROVEMENT = 0.003  # Extend's min_cost_improvement of 1.003
PAGE = 8192
MAX_EXTENDED_KEYS = 5
SWAP_POOL = 60


@dataclass
class Selection:
    config: list[IndexDef]
    cost_before: float  # objective with no new index
    cost_after: float
    sizes: dict[IndexDef, int]
    timed_out: bool = False


class Search:
    def __init__(self, ev: Evaluator, pool: Iterable[IndexDef], *, budget_bytes: int | None,
                 penalty: Callable[[IndexDef], float], extend_keys: dict[tuple[str, str], list[str]],
                 deadline: float | None = None) -> None:
        self.ev = ev
        self.budget = budget_bytes
        self.penalty = penalty
        self.extend_keys = extend_keys
        self.deadline = deadline
        self.timed_out = False
        self.sizes: dict[IndexDef, int] = {}
        self.invalid: dict[IndexDef, str] = {}
        self.pool = [p for p in dict.fromkeys(pool) if self.size(p) is not None and ev.serves(p)]

    # -- measures ------------------------------------------------------------------------------

    def size(self, idx: IndexDef) -> int | None:
        if idx in self.invalid:
            return None
        if idx not in self.sizes:
            try:
                self.sizes[idx] = self.ev.backend.size(idx)
            except CandidateError as exc:
                self.invalid[idx] = str(exc)
                return None
        return self.sizes[idx]

    def bytes(self, config: Iterable[IndexDef]) -> int:
        return sum(self.sizes[i] for i in config)

    def objective(self, config: list[IndexDef]) -> float:
        return self.ev.weighted(config) + sum(self.penalty(i) for i in config)

    def gain(self, config: list[IndexDef], removed: list[IndexDef], added: IndexDef | None) -> float:
        """objective(config) - objective(config - removed + added), over the queries that can change."""
        new = [i for i in config if i not in removed] + ([added] if added is not None else [])
        affected: set[int] = set()
        for idx in [*removed, *([added] if added is not None else [])]:
            affected.update(self.ev.serves(idx))
        g = 0.0
        for qi in affected:
            calls = self.ev.queries[qi].calls
            g += calls * (self.ev.cost(qi, config) - self.ev.cost(qi, new))
        g += sum(self.penalty(i) for i in removed)
        if added is not None:
            g -= self.penalty(added)
        return g

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
        return self.timed_out

    # -- moves ---------------------------------------------------------------------------------

    def moves(self, config: list[IndexDef]) -> Iterable[tuple[list[IndexDef], IndexDef]]:
        chosen = set(config)
        for p in self.pool:
            if p not in chosen:
                yield [], p
        for c in config:
            norms = set(c.key_norms())
            if len(c.keys) < MAX_EXTENDED_KEYS:
                for key in self.extend_keys.get((c.schema, c.table), ()):
                    if norm_key(strip_direction(key)) not in norms:
                        ext = c.extended(key)
                        if ext not in chosen:
                            yield [c], ext
            for p in self.pool:
                if p in chosen or p == c or (p.schema, p.table, p.where) != (c.schema, c.table, c.where):
                    continue
                if p.key_norms()[:len(c.keys)] == c.key_norms():
                    yield [c], p

    def _step(self, config: list[IndexDef], per_byte: bool, moves) -> tuple[list[IndexDef], IndexDef, float] | None:
        current = self.objective(config)
        floor = current * MIN_IMPROVEMENT
        used = self.bytes(config)
        best = None
        best_score = 0.0
        for removed, added in moves:
            if self.out_of_time():
                break
            size = self.size(added)
            if size is None:
                continue
            freed = sum(self.sizes[r] for r in removed)
            if self.budget is not None and used - freed + size > self.budget:
                continue
            try:
                g = self.gain(config, removed, added)
            except CandidateError:
                continue
            if g <= floor:
                continue
            score = g / max(size - freed, PAGE) if per_byte else g
            if best is None or score > best_score:
                best, best_score = (removed, added, g), score
        return best

    def greedy(self, per_byte: bool) -> list[IndexDef]:
        config: list[IndexDef] = []
        while not self.out_of_time():
            step = self._step(config, per_byte, self.moves(config))
            if step is None:
                break
            removed, added, _ = step
            config = [i for i in config if i not in removed] + [added]
        return config

    def swap(self, config: list[IndexDef]) -> list[IndexDef]:
        """Replace one chosen index by one unchosen candidate while that improves the objective."""
        ranked = sorted(((self.gain([], [], p), p) for p in self.pool), key=lambda t: -t[0])
        top = [p for g, p in ranked if g > 0][:SWAP_POOL]
        for _ in range(len(top)):
            if self.out_of_time():
                break
            chosen = set(config)
            moves = [([c], p) for c in config for p in top if p not in chosen]
            moves += [([], p) for p in top if p not in chosen]
            step = self._step(config, False, moves)
            if step is None:
                break
            removed, added, _ = step
            config = [i for i in config if i not in removed] + [added]
        return config

    def prune(self, config: list[IndexDef]) -> list[IndexDef]:
        """Drop what the rest of the configuration has made (nearly) useless."""
        changed = True
        while changed:
            changed = False
            floor = self.objective(config) * MIN_IMPROVEMENT
            for c in sorted(config, key=lambda i: self.sizes[i], reverse=True):
                if -self.gain(config, [c], None) <= floor:
                    config = [i for i in config if i != c]
                    changed = True
                    break
        return config

    def run(self) -> Selection:
        before = self.objective([])
        best: list[IndexDef] | None = None
        for per_byte in (True, False):
            config = self.prune(self.swap(self.greedy(per_byte)))
            if best is None or self.objective(config) < self.objective(best):
                best = config
            if self.timed_out:
                break
        best = best or []
        return Selection(config=best, cost_before=before, cost_after=self.objective(best),
                         sizes={i: self.sizes[i] for i in best}, timed_out=self.timed_out)
