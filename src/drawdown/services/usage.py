"""Usage: defining meters, ingesting events, reading meters (async-mode usage is burned by
:mod:`drawdown.services.usage_burns`).

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

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.billed_usage import summed_in_store
from drawdown.domain.enforcement import Mode
from drawdown.domain.errors import (
    AccountNotFound,
    DrawdownError,
    IdempotencyConflict,
    InvalidField,
    InvalidPeriod,
    MeterAlreadyExists,
    MeterNotFound,
)
from drawdown.domain.event_batches import FlatEvent
from drawdown.domain.instants import Period, calendar_period, to_micros, zone
from drawdown.domain.usage import (
    Meter,
    Window,
    aggregate,
    meter_of,
)
from drawdown.services.common import account_of, instant
from drawdown.services.event_intake import Batch, Refusal, from_mappings, from_ndjson, judge, keys_ahead
from drawdown.services.ports import Deps, EventRow, UnitOfWork

LATE_CUTOFF = "late_cutoff_seconds"


@dataclass(frozen=True, slots=True)
class EventResult:
    index: int
    key: str | None
    status: str  # accepted | duplicate | rejected
    code: str | None = None
    message: str | None = None


class IngestReport:
    """The result of each event, in input order, and how many of each status.

    A batch holds up to 10,000 events, so a report keeps keys and statuses in plain lists
    and builds the :class:`EventResult` values when ``results`` is first read.
    """

    __slots__ = ("_indexes", "_keys", "_reasons", "_results", "_statuses")

    def __init__(
        self,
        indexes: Sequence[int],
        keys: Sequence[str | None],
        statuses: list[str],
        reasons: Mapping[int, tuple[str, str]],
    ) -> None:
        """``reasons`` maps the position of each rejected event to its code and message."""
        assert len(indexes) == len(keys) == len(statuses)
        self._indexes, self._keys, self._statuses, self._reasons = indexes, keys, statuses, reasons
        self._results: tuple[EventResult, ...] | None = None

    @property
    def results(self) -> tuple[EventResult, ...]:
        if self._results is None:
            reasons, outcomes = self._reasons, zip(self._indexes, self._keys, self._statuses, strict=True)
            self._results = tuple(
                EventResult(index, key, status, *reasons.get(position, (None, None)))
                for position, (index, key, status) in enumerate(outcomes)
            )
        return self._results

    def count(self, status: str) -> int:
        return self._statuses.count(status)

    @property
    def accepted(self) -> int:
        return self.count("accepted")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IngestReport) and self.results == other.results

    def __hash__(self) -> int:
        return hash(self.results)

    def __repr__(self) -> str:
        return f"IngestReport(results={self.results!r})"


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
            if existing.same_definition(meter):
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
    return _record(deps, from_mappings(list(events)))


def ingest_ndjson(deps: Deps, data: bytes) -> IngestReport:
    """Record the events of NDJSON text (one JSON object per line, blank lines skipped).

    Results are as for :func:`ingest`, with ``index`` the 0-based line number; a line
    that is not JSON (not UTF-8, or nested too deep to decode) is rejected with ``invalid_json``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidField("NDJSON must be given as bytes", field="events")
    return _record(deps, from_ndjson(bytes(data)))


def _record(deps: Deps, batch: Batch) -> IngestReport:
    """Judge each decoded event and write the accepted ones, in one write unit of work."""
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # read under the writer lock, so recorded_at follows the commit order
        window = Window(now, late_cutoff(uow))
        with uow.events.contents_ahead(lambda: keys_ahead(batch)) as contents:  # read while we judge
            judged = judge(batch, window)
        valid = [event for event in judged if type(event) is tuple]
        names = sorted({event[1] for event in valid})
        known = _Known(
            accounts=uow.accounts.existing(names),
            types=uow.meters.event_types(),
            burning=uow.settings.in_mode(Mode.ASYNC, names) if names else set(),
            stored=contents([event[0] for event in valid]),
        )
        report, rows = _settle(batch.numbers, judged, known, to_micros(now))
        uow.events.add_many(rows)
    return report


@dataclass(frozen=True, slots=True)
class _Known:
    """What the store holds that judges a batch: accounts, event types with a meter, accounts
    in async mode, and the flat event stored under each key of the batch seen before."""

    accounts: set[str]
    types: set[str]
    burning: set[str]
    stored: dict[str, FlatEvent]


def _settle(
    numbers: Sequence[int], judged: list[FlatEvent | Refusal], known: _Known, recorded_at: int
) -> tuple[IngestReport, list[EventRow]]:
    """Each event's status against the store, and the rows of the accepted ones."""
    stored = dict(known.stored)  # a key accepted here makes its later copies duplicates
    burn, done = (recorded_at, 0), (recorded_at, 1)
    keys: list[str | None] = []
    statuses: list[str] = []
    reasons: dict[int, tuple[str, str]] = {}
    rows: list[EventRow] = []
    for position, event in enumerate(judged):
        if type(event) is not tuple:
            assert isinstance(event, Refusal)
            keys.append(event.key)
            statuses.append("rejected")
            reasons[position] = (event.code, event.message)
            continue
        key, account = event[0], event[1]
        keys.append(key)
        if account not in known.accounts or event[2] not in known.types:
            statuses.append("rejected")
            reasons[position] = _unknown(account, event[2], known.accounts)
            continue
        prior = stored.get(key)
        if prior is None:
            stored[key] = event
            rows.append(event + (burn if account in known.burning else done))
            statuses.append("accepted")
        elif prior == event:
            statuses.append("duplicate")
        else:
            statuses.append("rejected")
            reasons[position] = (
                IdempotencyConflict.code,
                f"event key {key!r} was already used for an event with different content",
            )
    return IngestReport(numbers, keys, statuses, reasons), rows


def _unknown(account: str, event_type: str, accounts: set[str]) -> tuple[str, str]:
    """The code and message refusing an event that names an absent account or event type."""
    error: DrawdownError
    if account not in accounts:
        error = AccountNotFound(f"no account has the id {account!r}; create it first", field="account")
    else:
        error = MeterNotFound(
            f"no meter counts events of type {event_type!r}; define a meter for it first", field="type"
        )
    return error.code, error.message


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
        if summed_in_store(meter):
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
