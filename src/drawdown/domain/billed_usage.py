"""Usage as an invoice sees it: quantities per product for a period, with the events behind them.

This is the seam between metering and invoicing. Whatever records usage hands the invoice
engine :class:`UsageTotal` values (through the ``UsageSource`` port); :func:`summarize`
turns raw events into them, counting each event id once, so the result does not depend on
the order events arrived in or on duplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from drawdown.domain import limits


@dataclass(frozen=True, slots=True)
class UsageEvent:
    event_id: str
    product: str
    quantity: Decimal
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """The quantity of one product, how many events made it, and the first event ids (sorted)."""

    product: str
    quantity: Decimal
    event_count: int
    event_ids: tuple[str, ...] = ()


def summarize(events: Iterable[UsageEvent]) -> tuple[UsageTotal, ...]:
    """Totals per product, each event id counted once (the first occurrence wins)."""
    seen: dict[str, UsageEvent] = {}
    for event in events:
        seen.setdefault(event.event_id, event)
    by_product: dict[str, list[UsageEvent]] = defaultdict(list)
    for event in seen.values():
        by_product[event.product].append(event)
    return tuple(
        UsageTotal(
            product,
            sum((e.quantity for e in found), Decimal(0)),
            len(found),
            tuple(sorted(e.event_id for e in found)[: limits.EVENT_IDS_PER_LINE_MAX]),
        )
        for product, found in sorted(by_product.items())
    )
