"""Late usage: events for months already invoiced become adjustment lines on the next invoice.

A late event of a summed product (usage lines, sum and count meters) adds its quantity. For a
maximum or a distinct count, a late event may change the month's value or not: what is billed
late is how much the value rose, per product and month.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.billed_usage import UsageEvent, summarize
from drawdown.domain.contracts import Contract, contract_in_force
from drawdown.domain.errors import LimitExceeded
from drawdown.domain.instants import Period, calendar_period, zone
from drawdown.domain.invoice_records import StoredInvoice
from drawdown.domain.invoices import LateUsage
from drawdown.domain.pricing import PriceBook, book_in_force
from drawdown.services.ports import UnitOfWork


def late_usage(
    uow: UnitOfWork,
    payer: Account,
    billing: Period,
    now: datetime,
    previous: StoredInvoice | None,
    contracts: list[Contract],
    versions: list[PriceBook],
) -> tuple[LateUsage, ...]:
    """Usage of months already invoiced, recorded after the previous invoice was frozen.

    Invoices are finalized in period order, so everything recorded up to the previous
    invoice's usage cutoff is already billed; what occurred before ``billing`` and was
    recorded since is late. Each late quantity is re-rated at its own month's price (the
    contract and book version in force then), continuing that month's tiers after what was
    already billed for the product.
    """
    if previous is None or previous.period.start >= billing.start:
        return ()
    events = uow.usage.late(
        payer.id, billing.start, recorded_after=previous.usage_cutoff, recorded_until=now,
        limit=limits.LATE_USAGE_ROWS_MAX + 1,
    )  # fmt: skip
    if len(events) > limits.LATE_USAGE_ROWS_MAX:
        raise LimitExceeded(
            f"{payer.id} has more than {limits.LATE_USAGE_ROWS_MAX} late usage events for earlier months; "
            "bill them by re-rating those months with credit notes",
            field="usage",
        )
    by_period: dict[Period, list[UsageEvent]] = defaultdict(list)
    for event in events:
        by_period[calendar_period(event.occurred_at, "month", zone(payer.time_zone))].append(event)
    for origin, rises in _measure_rises(uow, payer, billing, previous, now).items():
        by_period[origin].extend(rises)
    found = []
    for origin, group in sorted(by_period.items(), key=lambda item: item[0].start):
        billed = {
            t.product: t.quantity
            for t in uow.usage.totals(payer.id, origin, recorded_after=None, recorded_until=previous.usage_cutoff)
        }
        contract = contract_in_force(contracts, origin.start)
        book = book_in_force(versions, origin.start, None if contract is None else contract.price_book_version)
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


def _measure_rises(
    uow: UnitOfWork, payer: Account, billing: Period, previous: StoredInvoice, now: datetime
) -> dict[Period, list[UsageEvent]]:
    """For products that are a maximum or a distinct count: how much each invoiced month's value
    rose with the events recorded since ``previous`` was frozen, as one usage event per product
    and month (``late:<product>:<month>``), so it is rated continuing that month's tiers."""
    measures = uow.usage.late_measures(
        payer.id, billing.start, recorded_after=previous.usage_cutoff, recorded_until=now,
        limit=limits.LATE_USAGE_ROWS_MAX + 1,
    )  # fmt: skip
    if len(measures) > limits.LATE_USAGE_ROWS_MAX:
        raise LimitExceeded(
            f"{payer.id} has more than {limits.LATE_USAGE_ROWS_MAX} late usage events for earlier months; "
            "bill them by re-rating those months with credit notes",
            field="usage",
        )
    products: dict[Period, set[str]] = defaultdict(set)
    for product, at in measures:
        products[calendar_period(at, "month", zone(payer.time_zone))].add(product)
    rises: dict[Period, list[UsageEvent]] = {}
    for origin, names in sorted(products.items(), key=lambda item: item[0].start):
        billed = _values(uow, payer, origin, previous.usage_cutoff)
        current = _values(uow, payer, origin, now)
        found = [
            UsageEvent(f"late:{name}:{origin.start:%Y-%m}", name, current[name] - billed.get(name, Decimal(0)),
                       origin.start)
            for name in sorted(names)
            if current.get(name, Decimal(0)) > billed.get(name, Decimal(0))
        ]  # fmt: skip
        if found:
            rises[origin] = found
    return rises


def _values(uow: UnitOfWork, payer: Account, period: Period, until: datetime) -> dict[str, Decimal]:
    return {
        t.product: t.quantity for t in uow.usage.totals(payer.id, period, recorded_after=None, recorded_until=until)
    }
