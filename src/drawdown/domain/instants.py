"""Instants and half-open periods.

Every instant in drawdown is an aware datetime in UTC. Storage keeps instants as integer
microseconds since the Unix epoch, so comparisons are exact and identical on every store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drawdown.domain.errors import InvalidPeriod, InvalidTimeZone, NaiveDatetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def require_aware(value: object, *, field: str) -> datetime:
    """Return ``value`` in UTC; refuse naive datetimes and anything that is not a datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise NaiveDatetime(
                f"{field} {value!r} is not an ISO 8601 instant such as 2026-01-31T00:00:00Z",
                field=field,
            ) from None
    if not isinstance(value, datetime):
        raise NaiveDatetime(f"{field} must be a datetime, got {type(value).__name__}", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(
            f"{field} {value.isoformat()} has no time zone; give an offset such as +00:00",
            field=field,
        )
    return value.astimezone(UTC)


def to_micros(instant: datetime) -> int:
    assert instant.tzinfo is not None, "instants are aware"
    return (instant - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def zone(name: str, *, field: str = "time_zone") -> ZoneInfo:
    """Resolve an IANA time-zone name."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        raise InvalidTimeZone(f"{field} {name!r} is not an IANA time zone such as Europe/Paris", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimeZone(f"{field} {name!r} is not an IANA time zone such as Europe/Paris", field=field) from None


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval ``[start, end)`` of instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise InvalidPeriod(f"period start {self.start} must be before its end {self.end}")

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def calendar_period(instant: datetime, length: str, tz: ZoneInfo) -> Period:
    """The day, week (Monday-based) or month containing ``instant`` in time zone ``tz``.

    Boundaries are local midnights converted back to UTC, so a day across a DST change
    is 23 or 25 hours long and consecutive periods never overlap or leave a gap.
    """
    local = instant.astimezone(tz)
    # fold=0: when midnight happens twice (clocks turned back from 01:00), the day starts at the first
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None, fold=0)
    if length == "day":
        start, end = midnight, midnight + timedelta(days=1)
    elif length == "week":
        start = midnight - timedelta(days=midnight.weekday())
        end = start + timedelta(days=7)
    elif length == "month":
        start = midnight.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise AssertionError(f"unknown period length {length}")
    return Period(start.replace(tzinfo=tz).astimezone(UTC), end.replace(tzinfo=tz).astimezone(UTC))


def month_period(text: str, tz: ZoneInfo) -> Period:
    """The billing month ``YYYY-MM`` in time zone ``tz``, as a half-open UTC period."""
    try:
        first = datetime.strptime(text, "%Y-%m").replace(day=1, tzinfo=tz)
    except (TypeError, ValueError):
        raise InvalidPeriod(f"period {text!r} is not a month such as 2026-10", field="period") from None
    return calendar_period(first, "month", tz)
