"""Late usage: events for months already invoiced become adjustment lines on the next invoice.

A late event of a summed product (usage lines, sum and count meters) adds its quantity. For a
maximum or a distinct count, a late event may change the month's value or not: what is billed
late is how much the value rose, per product and month.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.billed_usage import UsageEvent, summarize
from drawdown.domain.contracts import Contract, contract_in_force
from drawdown.domain.errors import LimitExceeded
from drawdown.domain.instants import Period, calendar_period, zone
from drawdown.domain.invoice_records import StoredInvoice
from drawdown.domain.invoices import LateUsage
from drawdown.domain.pricing import PriceBook
from drawdown.services.ports import UnitOfWork
from drawdown.services.pricing import book_for

T = TypeVar("T")


def late_usage(
    uow: UnitOfWork,
    payer: Account,
    billing: Period,
    now: datetime,
    previous: StoredInvoice | None,
    contracts: list[Contract],
    books: dict[str, list[PriceBook]],
) -> tuple[LateUsage, ...]:
    """Usage of months already invoiced, recorded after the previous invoice was frozen.

    Invoices are finalized in period order, so everything recorded up to the previous
    invoice's usage cutoff is already billed; what occurred before ``billing`` and was
    recorded since is late. Each late quantity is re-rated at its own month's price (the
    contract in force then, and the version of that contract's book), continuing that month's
    tiers after what was already billed for the product. ``books`` caches price-book versions.
    """
    if previous is None or previous.period.start >= billing.start:
        return ()
    after, most = previous.usage_cutoff, limits.LATE_USAGE_ROWS_MAX + 1
    events = _bounded(
        payer, uow.usage.late(payer.id, billing.start, recorded_after=after, recorded_until=now, limit=most)
    )
    measures = _bounded(
        payer, uow.usage.late_measures(payer.id, billing.start, recorded_after=after, recorded_until=now, limit=most)
    )
    tz = zone(payer.time_zone)
    by_period: dict[Period, list[UsageEvent]] = defaultdict(list)
    for event in events:
        by_period[calendar_period(event.occurred_at, "month", tz)].append(event)
    measured: dict[Period, set[str]] = defaultdict(set)  # products that are a maximum or a distinct count
    for product, at in measures:
        measured[calendar_period(at, "month", tz)].add(product)
    found = []
    for origin in sorted(by_period.keys() | measured.keys(), key=lambda period: period.start):
        billed = _values(uow, payer, origin, previous.usage_cutoff)
        group = by_period.get(origin, [])
        if origin in measured:
            group = [*group, *_rises(origin, measured[origin], billed, _values(uow, payer, origin, now))]
        contract = contract_in_force(contracts, origin.start)
        book = book_for(uow, contract, origin.start, books)
        for total in summarize(group):
            override = None if contract is None else contract.override(total.product)
            if override is not None and contract is not None:
                price, source = override.price, f"contract:{contract.label}:{override.rule}"
            elif (listed := book.price(total.product)) is not None:
                price, source = listed, f"price_book:{book.label}"
            else:
                continue
            found.append(LateUsage(origin.start, total, billed.get(total.product, Decimal(0)), price, source))
    return tuple(found)


def _bounded(payer: Account, rows: list[T]) -> list[T]:
    if len(rows) > limits.LATE_USAGE_ROWS_MAX:
        raise LimitExceeded(
            f"{payer.id} has more than {limits.LATE_USAGE_ROWS_MAX} late usage events for earlier months; "
            "bill them by re-rating those months with credit notes",
            field="usage",
        )
    return rows


def _rises(
    origin: Period, products: set[str], billed: dict[str, Decimal], current: dict[str, Decimal]
) -> list[UsageEvent]:
    """How much each product's value (a maximum or a distinct count) rose since it was billed, as one
    usage event per product (``late:<product>:<month>``), so it is rated continuing the month's tiers."""
    return [
        UsageEvent(
            f"late:{name}:{origin.start:%Y-%m}", name, current[name] - billed.get(name, Decimal(0)), origin.start
        )
        for name in sorted(products)
        if current.get(name, Decimal(0)) > billed.get(name, Decimal(0))
    ]


def _values(uow: UnitOfWork, payer: Account, period: Period, until: datetime) -> dict[str, Decimal]:
    totals = uow.usage.totals(payer.id, period, recorded_after=None, recorded_until=until)
    return {t.product: t.quantity for t in totals}
