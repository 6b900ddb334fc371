"""The upkeep sweep: holds past their TTL released, lapsed grants expired, async usage
burned — once each, however often sweeps run."""

from __future__ import annotations

from datetime import timedelta

from drawdown.book import Book
from tests.conftest import START, FixedClock
from tests.integration.checker import check


def test_one_sweep_makes_every_due_change_and_a_second_changes_nothing(book: Book, clock: FixedClock) -> None:
    book.define_unit("CREDIT", scale=3)
    book.define_rate_card("std", "CREDIT", {"call": "1"}, effective_at=START - timedelta(days=1))
    book.define_meter("calls", event_type="call", aggregation="sum")
    book.create_account("held", currency="USD")
    book.create_account("lapsing", currency="USD")
    book.create_account("metered", currency="USD")
    book.configure_account("held", rate_card="std")
    book.configure_account("metered", mode="async", rate_card="std")
    book.issue_grant("held", "10", "CREDIT", reason_code="welcome")
    book.issue_grant("lapsing", "5", "CREDIT", reason_code="promo", expires_at=START + timedelta(minutes=30))
    book.issue_grant("metered", "10", "CREDIT", reason_code="welcome")
    hold = book.reserve("held", "call", "4", ttl_seconds=600)
    at = START.isoformat()
    book.ingest([{"key": "u1", "account": "metered", "type": "call", "time": at, "quantity": "3"}])

    clock.advance(hours=1)
    report = book.sweep()

    assert (report.holds_expired, report.grants_expired, report.usage_charged) == (1, 1, 1)
    assert report.changed
    assert book.hold(hold.id).status == "expired"
    assert book.balance("held", "CREDIT").available_units == 10_000  # the hold's credit is back
    assert book.balance("lapsing", "CREDIT").expired_units == 5_000
    assert book.balance("metered", "CREDIT").consumed_units == 3_000
    again = book.sweep()
    assert not again.changed
    assert check(book.engine, {}) == []
