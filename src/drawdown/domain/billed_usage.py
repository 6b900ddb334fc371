"""Usage as an invoice sees it: quantities per product for a period, with the events behind them.

This is the seam between metering and invoicing. Whatever records usage hands the invoice
engine :class:`UsageTotal` values (through the ``UsageSource`` port); :func:`summarize`
turns raw events into them, counting each event id once, so the result does not depend on
the order events arrived in or on duplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.domain import limits
from drawdown.domain.instants import from_micros
from drawdown.domain.usage import Aggregation, Meter, aggregate, measure


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


# -- usage from meters ----------------------------------------------------------------------
# Every meter bills as the product of the same id. Sum and count meters add up event by event,
# so usage recorded after an invoice was cut can be billed later as a late adjustment; a max or
# unique-count meter is billed from what the period held when the invoice was cut.

_MICROS = 10**limits.QUANTITY_SCALE
MeterEvent = tuple[str, str, int, int, dict[str, Any]]  # key, event type, event_at µs, quantity µ, properties


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or an exponent (7.000000 → 7, 1E+2 → 100)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


def additive(meter: Meter) -> bool:
    return meter.aggregation in (Aggregation.SUM, Aggregation.COUNT)


def summed_in_store(meter: Meter) -> bool:
    """Whether the meter is a count, sum or max of the events' own quantity, with no property
    filter: then its value is the store's ``COUNT``, ``SUM`` or ``MAX`` over the quantity column,
    and the store can compute it where the events are instead of handing each one over."""
    return meter.property is None and not meter.filters and meter.aggregation is not Aggregation.UNIQUE_COUNT


def stored_total(meter: Meter, count: int, sum_micros: int, max_micros: int, first_key: str) -> UsageTotal:
    """A :func:`summed_in_store` meter's total from the store's aggregates of its matching
    events; the same value :func:`metered_totals` gives for them, naming only the first event id."""
    assert count > 0
    if meter.aggregation is Aggregation.COUNT:
        return UsageTotal(meter.id, Decimal(count), count, (first_key,))
    micros = sum_micros if meter.aggregation is Aggregation.SUM else max_micros
    whole, fraction = divmod(micros, _MICROS)
    # plain() of the quantity, without normalizing the common whole number
    value = Decimal(whole) if not fraction else plain(Decimal(micros).scaleb(-limits.QUANTITY_SCALE))
    return UsageTotal(meter.id, value, count, (first_key,))


def metered_totals(meters: Iterable[Meter], events: Sequence[MeterEvent]) -> list[UsageTotal]:
    """Each meter's value over the events, with how many events matched and the first ids."""
    totals = []
    for meter in sorted(meters, key=lambda m: m.id):
        matched = [e for e in events if meter.matches(e[1], e[4])]
        if not matched:
            continue
        value = plain(aggregate(meter, ((e[1], e[3], e[4]) for e in matched)))
        ids = tuple(sorted(e[0] for e in matched)[: limits.EVENT_IDS_PER_LINE_MAX])
        totals.append(UsageTotal(meter.id, value, len(matched), ids))
    return totals


def metered_events(meters: Iterable[Meter], events: Sequence[MeterEvent]) -> list[UsageEvent]:
    """The events of additive meters as invoice usage events, one per (event, meter)."""
    found = []
    for meter in sorted((m for m in meters if additive(m)), key=lambda m: m.id):
        for key, event_type, at, quantity, properties in events:
            if not meter.matches(event_type, properties):
                continue
            value = Decimal(1) if meter.aggregation is Aggregation.COUNT else measure(meter, quantity, properties)
            if value is not None:
                found.append(UsageEvent(f"{key}#{meter.id}", meter.id, plain(value), from_micros(at)))
    return found


def combine(*sources: Iterable[UsageTotal]) -> list[UsageTotal]:
    """Totals from several sources, added up per product."""
    merged: dict[str, UsageTotal] = {}
    for total in (t for source in sources for t in source):
        before = merged.get(total.product)
        if before is None:
            merged[total.product] = total
            continue
        ids = tuple(sorted(set(before.event_ids) | set(total.event_ids))[: limits.EVENT_IDS_PER_LINE_MAX])
        merged[total.product] = UsageTotal(
            total.product, before.quantity + total.quantity, before.event_count + total.event_count, ids
        )
    return [merged[product] for product in sorted(merged)]
