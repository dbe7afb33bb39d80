"""What a run costs: one table of Anthropic's published prices, USD per million tokens.

Source: Anthropic's pricing page (platform.claude.com/docs/en/about-claude/pricing) and the
model overview pages, checked against anthropic 2.14.0's model list. Cache writes are the
5-minute tier (1.25x input), which is what `{"type": "ephemeral"}` buys; cache reads are
the hit price. A model missing here costs 0 and says so (`known=False`), so a budget never
silently treats a new model as free without the caller being able to tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


def _tier(input_usd: float, output_usd: float, cache_read: float | None = None) -> Price:
    return Price(input_usd, output_usd, input_usd * 1.25, input_usd * 0.1 if cache_read is None else cache_read)


PRICES: dict[str, Price] = {
    # Sonnet 4.x
    "claude-sonnet-4-6": _tier(3, 15),
    "claude-sonnet-4-5": _tier(3, 15),
    "claude-sonnet-4-0": _tier(3, 15),
    "claude-sonnet-4": _tier(3, 15),
    # Sonnet 5.x: the overview pages list $2 / $10, 5m write $2.50, read $0.20. Secondary
    # sources report Sonnet 5.5's read cut to $0.10 in 2026-10; keeping $0.20 errs towards
    # stopping a budgeted run early rather than late.
    "claude-sonnet-5": _tier(2, 10, cache_read=0.20),
    "claude-sonnet-5-5": _tier(2, 10, cache_read=0.20),
    # Haiku
    "claude-haiku-4-5": _tier(1, 5),
    "claude-3-5-haiku": _tier(0.80, 4),
    # Opus 4.5 and later dropped to $5 / $25; 4.0 and 4.1 kept the old tier.
    "claude-opus-5": _tier(5, 25),
    "claude-opus-4-8": _tier(5, 25),
    "claude-opus-4-7": _tier(5, 25),
    "claude-opus-4-6": _tier(5, 25),
    "claude-opus-4-5": _tier(5, 25),
    "claude-opus-4-1": _tier(15, 75),
    "claude-opus-4-0": _tier(15, 75),
    "claude-opus-4": _tier(15, 75),
    # Fable and Mythos: $10 / $50; the 5.1 releases cut the cache-hit price to $0.25.
    "claude-fable-5": _tier(10, 50, cache_read=1.0),
    "claude-mythos-5": _tier(10, 50, cache_read=1.0),
    "claude-fable-5-1": _tier(10, 50, cache_read=0.25),
    "claude-mythos-5-1": _tier(10, 50, cache_read=0.25),
}
# Left out on purpose: claude-haiku-5-5 (priced by prompt length, two tiers) and
# claude-opus-5-5 (cache prices not confirmed from a primary source). They report known=False.

_DATE_SUFFIX = re.compile(r"-\d{8}$")


def price_for(model: str) -> Price | None:
    """The price of a model id; dated snapshots ("claude-haiku-4-5-20251001") share their alias's price."""
    name = model.strip().lower().removesuffix("[1m]")
    return PRICES.get(name) or PRICES.get(_DATE_SUFFIX.sub("", name))


@dataclass(frozen=True)
class Cost:
    usd: float
    known: bool  # False when the model has no price here: usd is then 0


def _get(usage: Any, key: str) -> int:
    value = usage.get(key) if isinstance(usage, Mapping) else getattr(usage, key, None)
    return int(value or 0)


def cost(model: str, usage: Any) -> Cost:
    """USD for one response's `usage` (a dict or the SDK's Usage object)."""
    price = price_for(model)
    if price is None:
        return Cost(0.0, False)
    usd = (
        _get(usage, "input_tokens") * price.input
        + _get(usage, "output_tokens") * price.output
        + _get(usage, "cache_creation_input_tokens") * price.cache_write
        + _get(usage, "cache_read_input_tokens") * price.cache_read
    ) / 1_000_000
    return Cost(usd, True)
