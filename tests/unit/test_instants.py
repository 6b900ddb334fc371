"""Instants are aware UTC, and calendar periods tile time with no gaps or overlaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawdown.domain.errors import InvalidTimeZone, NaiveDatetime
from drawdown.domain.instants import calendar_period, from_micros, require_aware, to_micros, zone

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Havana",
]


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["day", "week", "month"]),
    st.sampled_from(ZONES),
)
def test_consecutive_periods_meet_exactly_in_every_time_zone(instant: datetime, length: str, name: str) -> None:
    tz = zone(name)
    period = calendar_period(instant, length, tz)
    assert instant in period
    following = calendar_period(period.end, length, tz)
    assert following.start == period.end
    before = calendar_period(period.start - timedelta(microseconds=1), length, tz)
    assert before.end == period.start


def test_a_day_across_a_dst_change_is_23_or_25_hours() -> None:
    paris = zone("Europe/Paris")
    spring = calendar_period(datetime(2026, 3, 29, 12, tzinfo=UTC), "day", paris)
    autumn = calendar_period(datetime(2026, 10, 25, 12, tzinfo=UTC), "day", paris)
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)


@pytest.mark.parametrize("length", ["day", "week", "month"])
def test_the_second_pass_through_a_repeated_midnight_hour_is_in_the_same_day(length: str) -> None:
    """Cuba turns its clocks back from 01:00 to 00:00, so 00:00-01:00 on Sunday 2026-11-01 happens
    twice; both passes are in the same local day (and week, and month), which starts at the first."""
    havana = zone("America/Havana")
    first, second = datetime(2026, 11, 1, 4, 30, tzinfo=UTC), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert first.astimezone(havana).hour == second.astimezone(havana).hour == 0
    period = calendar_period(second, length, havana)
    assert period == calendar_period(first, length, havana)
    assert calendar_period(period.start - timedelta(microseconds=1), length, havana).end == period.start


def test_february_of_a_leap_year_has_29_days() -> None:
    month = calendar_period(datetime(2028, 2, 29, 23, tzinfo=UTC), "month", zone("UTC"))
    assert month.end - month.start == timedelta(days=29)


@given(st.datetimes(timezones=st.just(UTC)))
def test_micros_round_trip(instant: datetime) -> None:
    assert from_micros(to_micros(instant)) == instant


def test_naive_and_unparseable_instants_are_refused() -> None:
    with pytest.raises(NaiveDatetime, match="no time zone"):
        require_aware(datetime(2026, 1, 1), field="at")
    with pytest.raises(NaiveDatetime, match="ISO 8601"):
        require_aware("yesterday", field="at")
    assert require_aware("2026-01-01T01:00:00+01:00", field="at") == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "x" * 100])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(InvalidTimeZone):
        zone(name)
