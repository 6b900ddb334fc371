"""The pure FinOps rules: hierarchy levels, spend mapping, draw instants, expiry status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drawdown.domain.finops import (
    UNALLOCATED,
    CreditStatus,
    Level,
    MappingRule,
    MatchKind,
    Node,
    SpendAttributes,
    check_parent,
    credit_status,
    draw_instant,
    match,
    ordered,
    units_per_day,
)

SPEND = SpendAttributes("111", {"business_unit": "retail", "application": "checkout"}, {"team": "payments"})


def test_levels_go_business_unit_department_portfolio_product() -> None:
    bu = Node("bu", Level.BUSINESS_UNIT, "BU", None, "USD")
    dept = Node("d", Level.DEPARTMENT, "D", "bu", "USD")
    assert check_parent(Level.BUSINESS_UNIT, None) is None
    assert check_parent(Level.DEPARTMENT, bu) is None
    assert check_parent(Level.PORTFOLIO, dept) is None
    assert check_parent(Level.PRODUCT, bu) is not None
    assert check_parent(Level.DEPARTMENT, None) is not None
    assert check_parent(Level.UNALLOCATED, None) is not None


def test_the_first_rule_by_priority_wins_and_unmatched_spend_is_unallocated() -> None:
    rules = ordered([
        MappingRule("b", 20, MatchKind.USAGE_ACCOUNT, "", "111", "by-account"),
        MappingRule("a", 10, MatchKind.TAG, "application", "checkout", "by-tag"),
        MappingRule("c", 5, MatchKind.COST_CATEGORY, "team", "other", "never"),
    ])  # fmt: skip
    assert match(rules, SPEND) == "by-tag"
    assert match(rules[2:], SPEND) == "by-account"
    assert match(rules, SpendAttributes("222", {}, {})) == UNALLOCATED


def test_a_period_is_drawn_at_its_last_instant_or_at_import_time_if_earlier() -> None:
    march = datetime(2026, 3, 1, tzinfo=UTC)
    assert draw_instant(march, datetime(2026, 5, 1, tzinfo=UTC)) == datetime(2026, 4, 1, tzinfo=UTC) - timedelta(
        microseconds=1
    )
    assert draw_instant(march, datetime(2026, 3, 10, tzinfo=UTC)) == datetime(2026, 3, 10, tzinfo=UTC)
    december = datetime(2025, 12, 1, tzinfo=UTC)
    assert draw_instant(december, datetime(2026, 5, 1, tzinfo=UTC)).year == 2025


def test_expiry_status_orders_voided_exhausted_expired_expiring_active() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    soon, later = now + timedelta(days=30), now + timedelta(days=31)
    assert credit_status(remaining_units=5, voided=False, expires_at=later, now=now) is CreditStatus.ACTIVE
    assert credit_status(remaining_units=5, voided=False, expires_at=soon, now=now) is CreditStatus.EXPIRING
    assert credit_status(remaining_units=0, voided=False, expires_at=soon, now=now) is CreditStatus.EXHAUSTED
    assert credit_status(remaining_units=5, voided=False, expires_at=now, now=now) is CreditStatus.EXPIRED
    assert credit_status(remaining_units=0, voided=False, expires_at=now, now=now) is CreditStatus.EXHAUSTED
    assert credit_status(remaining_units=5, voided=True, expires_at=later, now=now) is CreditStatus.VOIDED
    assert credit_status(remaining_units=5, voided=False, expires_at=None, now=now) is CreditStatus.ACTIVE


def test_the_daily_rate_that_uses_a_credit_rounds_up() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert units_per_day(10, now, now + timedelta(days=3)) == 4
    assert units_per_day(9, now, now + timedelta(days=3)) == 3
