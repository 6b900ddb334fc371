"""Usage: defining meters, ingesting events, reading meters, burning async-mode usage.

``ingest`` takes a batch of up to ``EVENTS_PER_BATCH_MAX`` raw events and answers per
event: ``accepted``, ``duplicate`` (same key, same content) or ``rejected`` with the code
and message of the typed error. Rejected events write nothing; the accepted ones are all
written in one database transaction. Keys are kept forever, so the dedupe window is
unbounded: a key seen once is recognised on every later submission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.drawdown import Charge, postings
from drawdown.domain.enforcement import Mode
from drawdown.domain.errors import (
    AccountNotFound,
    BatchTooLarge,
    DrawdownError,
    IdempotencyConflict,
    InvalidField,
    InvalidPeriod,
    MeterAlreadyExists,
    MeterNotFound,
)
from drawdown.domain.grants import Category, Target
from drawdown.domain.instants import Period, calendar_period, to_micros, zone
from drawdown.domain.ledger import EntryKind, Posting, TransactionDraft, TxKind
from drawdown.domain.usage import Event, Meter, Window, aggregate, canonical_properties, meter_of, parse_event
from drawdown.services.charges import plan
from drawdown.services.common import account_of, instant
from drawdown.services.enforcement import overdraft_headroom, price
from drawdown.services.ports import Deps, UnitOfWork

LATE_CUTOFF = "late_cutoff_seconds"


@dataclass(frozen=True, slots=True)
class EventResult:
    index: int
    key: str | None
    status: str  # accepted | duplicate | rejected
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class IngestReport:
    results: tuple[EventResult, ...]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def accepted(self) -> int:
        return self.count("accepted")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")


@dataclass(frozen=True, slots=True)
class MeterReading:
    period: Period
    value: Decimal


def define_meter(
    deps: Deps,
    meter_id: str,
    *,
    event_type: str,
    aggregation: str,
    property: str | None = None,
    filters: Mapping[str, object] | None = None,
) -> Meter:
    """Define a meter; defining the same meter twice identically returns it."""
    meter = meter_of(meter_id, event_type, aggregation, property, dict(filters or {}))
    with deps.uow(write=True) as uow:
        existing = uow.meters.get(meter_id)
        if existing is not None:
            if existing == meter:
                return existing
            raise MeterAlreadyExists(f"meter {meter_id} exists with a different definition", field="meter_id")
        uow.meters.add(meter, to_micros(deps.clock.now()))
    return meter


def set_late_cutoff(deps: Deps, seconds: int) -> None:
    """How old an event may be when it arrives (default 7 days, at most 30)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= limits.LATE_CUTOFF_SECONDS_MAX:
        raise InvalidField(f"the late cutoff is 1–{limits.LATE_CUTOFF_SECONDS_MAX} seconds", field="late_cutoff")
    with deps.uow(write=True) as uow:
        uow.settings.put(LATE_CUTOFF, str(seconds))


def late_cutoff(uow: UnitOfWork) -> timedelta:
    stored = uow.settings.get(LATE_CUTOFF)
    return timedelta(seconds=int(stored) if stored is not None else limits.LATE_CUTOFF_SECONDS_DEFAULT)


def ingest(deps: Deps, events: Sequence[Mapping[str, Any]]) -> IngestReport:
    """Record a batch of usage events, each at most once; see the module docstring."""
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise InvalidField("events must be a list of event objects", field="events")
    if len(events) > limits.EVENTS_PER_BATCH_MAX:
        raise BatchTooLarge(
            f"a batch holds at most {limits.EVENTS_PER_BATCH_MAX} events, got {len(events)}; split it",
            field="events",
        )
    now = deps.clock.now()
    results: list[EventResult | None] = [None] * len(events)
    with deps.uow(write=True) as uow:
        window = Window(now, late_cutoff(uow))
        parsed: list[tuple[int, Event]] = []
        for index, raw in enumerate(events):
            try:
                parsed.append((index, parse_event(raw, window)))
            except DrawdownError as error:
                results[index] = _rejected(index, raw, error)
        accounts = uow.accounts.existing(sorted({e.account_id for _, e in parsed}))
        types = uow.meters.event_types()
        stored = uow.events.fingerprints([e.key for _, e in parsed])
        accepted: list[tuple[Event, str, str]] = []
        for index, event in parsed:
            properties = canonical_properties(event.properties)
            verdict, digest = _judge(index, event, properties, accounts, types, stored)
            if verdict is None:
                verdict = EventResult(index, event.key, "accepted")
                stored[event.key] = digest  # a later copy in this batch is a duplicate
                accepted.append((event, digest, properties))
            results[index] = verdict
        uow.events.add_many(accepted, to_micros(now))
    return IngestReport(tuple(r for r in results if r is not None))


def _judge(
    index: int, event: Event, properties: str, accounts: set[str], types: set[str], stored: Mapping[str, str]
) -> tuple[EventResult | None, str]:
    """``None`` for an event to accept, else its duplicate or rejected result."""
    if event.account_id not in accounts:
        error: DrawdownError = AccountNotFound(
            f"no account has the id {event.account_id!r}; create it first", field="account"
        )
        return _rejected(index, {"key": event.key}, error), ""
    if event.event_type not in types:
        error = MeterNotFound(
            f"no meter counts events of type {event.event_type!r}; define a meter for it first", field="type"
        )
        return _rejected(index, {"key": event.key}, error), ""
    digest = event.fingerprint(properties)
    prior = stored.get(event.key)
    if prior is None:
        return None, digest
    if prior == digest:
        return EventResult(index, event.key, "duplicate"), digest
    error = IdempotencyConflict(
        f"event key {event.key!r} was already used for an event with different content", field="key"
    )
    return _rejected(index, {"key": event.key}, error), digest


def _rejected(index: int, raw: object, error: DrawdownError) -> EventResult:
    key = raw.get("key") if isinstance(raw, Mapping) else None
    return EventResult(index, key if isinstance(key, str) else None, "rejected", error.code, error.message)


def meter_readings(
    deps: Deps, meter_id: str, account: str, *, start: object, end: object, period: str | None = "day"
) -> list[MeterReading]:
    """The meter's value for each whole period (day, week, month in the account's time zone)
    that overlaps ``[start, end)``, or for ``[start, end)`` itself when ``period`` is None."""
    now = deps.clock.now()
    begin, finish = instant(start, field="start", default=now), instant(end, field="end", default=now)
    with deps.uow(write=False) as uow:
        meter = uow.meters.get(meter_id)
        if meter is None:
            raise MeterNotFound(f"no meter has the id {meter_id!r}", field="meter_id")
        payer = account_of(uow, account)
        periods = _periods(payer, begin, finish, period)
        bounds = [(to_micros(p.start), to_micros(p.end)) for p in periods]
        if meter.property is None and not meter.filters and meter.aggregation != "unique_count":
            values = uow.events.grouped(meter, payer.id, bounds)
        else:
            values = _streamed(uow, meter, payer.id, bounds)
    return [MeterReading(p, v) for p, v in zip(periods, values, strict=True)]


def _periods(payer: Account, start: datetime, end: datetime, length: str | None) -> list[Period]:
    if length is None:
        return [Period(start, end)]
    if length not in ("day", "week", "month"):
        raise InvalidField("period must be day, week, month or None", field="period")
    if not start < end:
        raise InvalidPeriod(f"start {start.isoformat()} must be before end {end.isoformat()}", field="start")
    tz = zone(payer.time_zone)
    periods = [calendar_period(start, length, tz)]
    while periods[-1].end < end:
        if len(periods) >= limits.METER_PERIODS_MAX:
            raise InvalidPeriod(f"at most {limits.METER_PERIODS_MAX} periods per query", field="end")
        periods.append(calendar_period(periods[-1].end, length, tz))
    return periods


def _streamed(uow: UnitOfWork, meter: Meter, account_id: str, bounds: list[tuple[int, int]]) -> list[Decimal]:
    buckets: list[list[tuple[str, int, Mapping[str, Any]]]] = [[] for _ in bounds]
    index = 0
    for at, quantity, properties in uow.events.stream(account_id, meter.event_type, bounds[0][0], bounds[-1][1]):
        while at >= bounds[index][1]:
            index += 1
        buckets[index].append((meter.event_type, quantity, properties))
    return [aggregate(meter, bucket) for bucket in buckets]


@dataclass(frozen=True, slots=True)
class BurnReport:
    charged: int
    skipped: int
    unbilled_units: int  # usage beyond credit and overdraft headroom, recorded on its charge


def burn_usage(deps: Deps, *, actor: str = "system:usage-burn") -> BurnReport:
    """Charge async-mode accounts for their unburned events, through the drawdown, by event time.

    Each event is charged once (its charge is keyed ``usage:<event key>``). What credit and
    overdraft headroom cannot cover is not taken below the floor: it is recorded on the
    charge as ``unbilled_units``. Events of other modes, or of unpriced features, are
    marked done without a charge (enforce-mode usage is charged by reserve and capture).
    """
    charged = skipped = unbilled = 0
    while True:
        with deps.uow(write=True) as uow:
            batch = uow.events.unburned(None, limits.USAGE_BURNS_PER_BATCH)
            for event in batch:
                burned = _burn(uow, deps, event, actor)
                charged, skipped = charged + (burned is not None), skipped + (burned is None)
                unbilled += burned or 0
            uow.events.mark_burned([e.key for e in batch])
        if len(batch) < limits.USAGE_BURNS_PER_BATCH:
            return BurnReport(charged, skipped, unbilled)


def _burn(uow: UnitOfWork, deps: Deps, event: Event, actor: str) -> int | None:
    """Post one event's charge; return the unbilled units, or None when there is no charge."""
    payer = uow.accounts.get(event.account_id)
    assert payer is not None
    settings = uow.settings.enforcement(payer.id)
    if settings.mode is not Mode.ASYNC or settings.rate_card_id is None:
        return None
    try:
        cost = price(uow, payer, event.event_type, str(event.quantity), event.event_at)
    except DrawdownError:
        return None
    if cost.cost_units == 0:
        return None
    wanted = Charge(payer.id, cost.unit.code, cost.cost_units, Target(Category.USAGE, cost.feature), event.event_at)
    drawn = plan(uow, payer, wanted)
    lent = min(drawn.shortfall_units, overdraft_headroom(uow, settings, cost.unit.code))
    legs = postings(drawn, EntryKind.CONSUMED)
    if lent:
        legs = (
            *legs,
            Posting(EntryKind.OVERDRAFT, payer.id, cost.unit.code, -lent, None, payer.id),
            Posting(EntryKind.CONSUMED, payer.id, cost.unit.code, lent, None, payer.id, {"overdraft": True}),
        )
    unbilled = drawn.shortfall_units - lent
    draft = TransactionDraft(
        kind=TxKind.CHARGE, effective_at=event.event_at, postings=legs, actor=actor, reason=f"usage {event.key}",
        idempotency_key=f"usage:{event.key}", fingerprint=event.fingerprint(),
        links={"account_id": payer.id, "event_key": event.key},
        data={"amount_units": cost.cost_units, "shortfall_units": unbilled, "unbilled_units": unbilled,
              "category": "usage", "product": cost.feature, "policy": str(drawn.policy),
              "rate": str(cost.rate), "rate_card": f"{cost.card.id}@{cost.card.version}"},
    )  # fmt: skip
    uow.ledger.post_many([(draft, deps.ids.new("tx"))], deps.clock.now())
    return unbilled
