"""Usage: defining meters, ingesting events, reading meters, burning async-mode usage.

``ingest`` takes a batch of up to ``EVENTS_PER_BATCH_MAX`` raw events (``ingest_ndjson``
the same as NDJSON bytes) and answers per event: ``accepted``, ``duplicate`` (same key,
same stored content) or ``rejected`` with the code and message of the typed error.
Rejected events write nothing; the accepted ones are all written in one database
transaction. Keys are kept forever, so the dedupe window is unbounded: a key seen once is
recognised on every later submission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

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
from drawdown.domain.instants import EPOCH, MICROSECOND, Period, calendar_period, to_micros, zone
from drawdown.domain.ledger import EntryKind, Posting, TransactionDraft, TxKind
from drawdown.domain.usage import (
    Event,
    Meter,
    Window,
    aggregate,
    canonical_properties,
    meter_of,
    parse_events,
)
from drawdown.services.charges import plan
from drawdown.services.common import account_of, instant
from drawdown.services.enforcement import overdraft_headroom, price
from drawdown.services.ports import Deps, EventRow, UnitOfWork

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
    _check_size(len(events))
    return _record(deps, list(events), list(range(len(events))), [])


def ingest_ndjson(deps: Deps, data: bytes) -> IngestReport:
    """Record the events of NDJSON text (one JSON object per line, blank lines skipped).

    Results are as for :func:`ingest`, with ``index`` the 0-based line number; a line
    that is not JSON is rejected with ``invalid_json``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidField("NDJSON must be given as bytes", field="events")
    raws: list[object] = []
    lines: list[int] = []
    broken: list[EventResult] = []
    for number, line in enumerate(bytes(data).split(b"\n")):  # NDJSON lines end in \n (or \r\n)
        if not line or line.isspace():
            continue
        try:
            raws.append(_decode_json(line))
            lines.append(number)
        except msgspec.DecodeError as error:
            broken.append(EventResult(number, None, "rejected", "invalid_json", f"line {number + 1}: {error}"))
        _check_size(len(lines) + len(broken))  # stop decoding at the first event over the limit
    return _record(deps, raws, lines, broken)


def _check_size(count: int) -> None:
    if count > limits.EVENTS_PER_BATCH_MAX:
        raise BatchTooLarge(
            f"a batch holds at most {limits.EVENTS_PER_BATCH_MAX} events, got {count}; split it", field="events"
        )


def _record(deps: Deps, raws: list[object], indexes: list[int], broken: list[EventResult]) -> IngestReport:
    """Judge each raw event (``indexes`` are the numbers results carry) and write the accepted ones."""
    results: list[EventResult] = list(broken)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # read under the writer lock, so recorded_at follows the commit order
        recorded_at = to_micros(now)
        parsed = parse_events(raws, Window(now, late_cutoff(uow)))
        valid = [e for e in parsed if type(e) is Event]
        names = sorted({e.account_id for e in valid})
        accounts = uow.accounts.existing(names)
        burning = uow.settings.in_mode(Mode.ASYNC, names) if names else set()
        types = uow.meters.event_types()
        stored = uow.events.contents([e.key for e in valid])
        canonical: dict[bytes, str] = {}
        rows: list[EventRow] = []
        for index, raw, item in zip(indexes, raws, parsed, strict=True):
            if type(item) is not Event:
                assert isinstance(item, DrawdownError)
                results.append(_rejected(index, raw, item))
                continue
            event = item
            unknown = _unknown(event, accounts, types)
            if unknown is not None:
                results.append(_refused(index, event.key, unknown))
                continue
            key, at, properties = event.key, (event.event_at - EPOCH) // MICROSECOND, event.properties
            text = "{}"
            if properties:
                # canonical_properties per distinct properties, remembered by msgspec's sorted JSON
                # of them (which, unlike a dict key, tells true from 1 and ignores key order)
                token = _encode_sorted(properties)
                text = canonical.get(token) or canonical.setdefault(token, canonical_properties(properties))
            content = (event.account_id, event.event_type, at, event.quantity_micros, text)
            prior = stored.get(key)
            if prior is None:
                stored[key] = content  # a later copy in this batch is a duplicate
                rows.append((key, *content, recorded_at, 0 if event.account_id in burning else 1))
                results.append(EventResult(index, key, "accepted"))
            elif prior == content:
                results.append(EventResult(index, event.key, "duplicate"))
            else:
                results.append(_refused(index, event.key, IdempotencyConflict(
                    f"event key {event.key!r} was already used for an event with different content",
                    field="key")))  # fmt: skip
        uow.events.add_many(rows)
    if broken:
        results.sort(key=lambda r: r.index)
    return IngestReport(tuple(results))


_decode_json = msgspec.json.Decoder().decode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def _unknown(event: Event, accounts: set[str], types: set[str]) -> DrawdownError | None:
    """Why ``event`` names something that does not exist, if it does."""
    if event.account_id not in accounts:
        return AccountNotFound(f"no account has the id {event.account_id!r}; create it first", field="account")
    if event.event_type not in types:
        return MeterNotFound(
            f"no meter counts events of type {event.event_type!r}; define a meter for it first", field="type"
        )
    return None


def _refused(index: int, key: str, error: DrawdownError) -> EventResult:
    return EventResult(index, key, "rejected", error.code, error.message)


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
