"""Billing periods across DST changes, month ends and leap days, in several time zones."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawdown.domain.errors import InvalidPeriod
from drawdown.domain.instants import calendar_period, month_period

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham",
         "America/Sao_Paulo"]  # fmt: skip


@pytest.mark.parametrize("zone", ZONES)
def test_consecutive_months_leave_no_gap_and_no_overlap(zone: str) -> None:
    tz = ZoneInfo(zone)
    months = [month_period(f"{y}-{m:02d}", tz) for y in (2023, 2024, 2025, 2026) for m in range(1, 13)]
    for before, after in itertools.pairwise(months):
        assert before.end == after.start
    for period in months:
        assert period.start.astimezone(tz).day == 1
        assert (period.start.astimezone(tz).hour, period.end.astimezone(tz).hour) == (0, 0)


# zone, month, length in hours
LENGTH_TABLE = [
    ("UTC", "2024-02", 29 * 24),  # leap year
    ("UTC", "2025-02", 28 * 24),
    ("Europe/Paris", "2026-03", 31 * 24 - 1),  # spring forward
    ("Europe/Paris", "2026-10", 31 * 24 + 1),  # fall back
    ("America/New_York", "2026-03", 31 * 24 - 1),
    ("America/New_York", "2026-11", 30 * 24 + 1),
    ("Australia/Lord_Howe", "2026-04", 30 * 24 + 0.5),  # a half-hour DST shift
    ("Asia/Kolkata", "2026-10", 31 * 24),
]  # fmt: skip


@pytest.mark.parametrize(("zone", "month", "hours"), LENGTH_TABLE, ids=[f"{z}-{m}" for z, m, _ in LENGTH_TABLE])
def test_a_billing_month_is_as_long_as_the_local_calendar_says(zone: str, month: str, hours: float) -> None:
    period = month_period(month, ZoneInfo(zone))
    assert period.end - period.start == timedelta(hours=hours)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(ZONES))  # fmt: skip
def test_every_instant_falls_in_exactly_one_billing_month(instant: datetime, zone: str) -> None:
    tz = ZoneInfo(zone)
    period = calendar_period(instant, "month", tz)
    assert instant in period
    assert period.end not in period
    following = calendar_period(period.end, "month", tz)
    assert following.start == period.end
    assert month_period(period.start.astimezone(tz).strftime("%Y-%m"), tz) == period


def test_a_malformed_month_is_refused() -> None:
    with pytest.raises(InvalidPeriod):
        month_period("2026-13", ZoneInfo("UTC"))
