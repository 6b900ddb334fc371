"""Publishing price-book versions and contract amendments; recording usage and availability."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import require_id
from drawdown.domain.billed_usage import UsageEvent
from drawdown.domain.contracts import Availability, Contract
from drawdown.domain.errors import InvalidAmount, InvalidField, LimitExceeded, UnitMismatch
from drawdown.domain.money import parse_decimal
from drawdown.domain.pricing import PriceBook, book_in_force
from drawdown.domain.terms import contract_from, prices_from
from drawdown.services.common import account_of, instant, unit_of
from drawdown.services.ports import Deps, UnitOfWork


def publish_price_book(
    deps: Deps, book_id: str, unit: str, prices: Sequence[Mapping[str, Any]], *, effective_at: object = None
) -> PriceBook:
    """Add the next version of a price book; earlier versions stay for re-rating old periods."""
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        unit_obj = unit_of(uow, unit)
        versions = uow.price_books.versions(require_id(book_id, field="price_book"))
        book = PriceBook(
            book_id,
            (versions[-1].version + 1) if versions else 1,
            instant(effective_at, field="effective_at", default=now),
            unit_obj.code,
            prices_from(list(prices)),
        )
        uow.price_books.add(book, now)
    return book


def book_for(uow: UnitOfWork, contract: Contract | None, at: datetime, books: dict[str, list[PriceBook]]) -> PriceBook:
    """The price-book version a period starting at ``at`` is rated with: the version of the
    contract's book (the default book without a contract) pinned by it, else in force at ``at``.
    ``books`` caches each book's versions for the caller."""
    book_id = "default" if contract is None else contract.price_book
    if book_id not in books:
        books[book_id] = uow.price_books.versions(book_id)
    return book_in_force(books[book_id], at, None if contract is None else contract.price_book_version)


def amend_contract(deps: Deps, account: str, terms: Mapping[str, Any], *, effective_at: object = None) -> Contract:
    """Add the next version of an account's contract; every earlier version is kept."""
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        payer = account_of(uow, account)
        versions = uow.contracts.versions(payer.id)
        contract = contract_from(
            payer.id,
            (versions[-1].version + 1) if versions else 1,
            instant(effective_at, field="effective_at", default=now),
            terms,
        )
        books = uow.price_books.versions(contract.price_book)
        if books and books[-1].unit != payer.currency:
            raise UnitMismatch(
                f"price book {contract.price_book} is in {books[-1].unit}; "
                f"account {payer.id} bills in {payer.currency}",
                field="price_book",
            )
        uow.contracts.add(contract, now)
    return contract


def contracts(deps: Deps, account: str) -> list[Contract]:
    """Every version of an account's contract, oldest first."""
    with deps.uow(write=False) as uow:
        return uow.contracts.versions(account_of(uow, account).id)


def record_usage(deps: Deps, account: str, events: Sequence[Mapping[str, Any]]) -> int:
    """Store usage events (the stored usage source); an event id seen before is ignored."""
    if len(events) > limits.TRANSACTIONS_PER_BATCH_MAX:
        raise LimitExceeded(f"at most {limits.TRANSACTIONS_PER_BATCH_MAX} events per call", field="events")
    with deps.uow(write=True) as uow:
        # recorded_at: read under the writer lock, so instants follow the commit order (an
        # invoice bills usage recorded up to its instant; what is recorded later is late usage)
        now = deps.clock.now()
        parsed = [_event(e, now) for e in events]
        payer = account_of(uow, account)
        return uow.usage.record(payer.id, parsed, now)


def _event(data: Mapping[str, Any], now: datetime) -> UsageEvent:
    quantity = parse_decimal(data.get("quantity"), field="quantity")
    if quantity < 0 or quantity != quantity.quantize(Decimal("0.000001")):
        raise InvalidAmount("quantity must be zero or more with at most 6 decimal places", field="quantity")
    return UsageEvent(
        require_id(data.get("event_id"), field="event_id"),
        require_id(data.get("product"), field="product"),
        quantity,
        instant(data.get("occurred_at"), field="occurred_at", default=now),
    )


def record_availability(
    deps: Deps, account: str, product: str, percent: object, incident_ref: str, *, occurred_at: object = None
) -> Availability:
    """Record measured availability of a product (and the incident), the input of SLA credits."""
    value = parse_decimal(percent, field="percent")
    if not 0 <= value <= 100:
        raise InvalidField("percent must be from 0 to 100", field="percent")
    record = Availability(require_id(product, field="product"), value, require_id(incident_ref, field="incident_ref"))
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        payer = account_of(uow, account)
        uow.availability.record(
            payer.id, record, instant(occurred_at, field="occurred_at", default=now), deps.ids.new("av")
        )
    return record
