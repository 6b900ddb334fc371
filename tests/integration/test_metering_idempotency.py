"""Idempotency trials for reserve, capture, release and ingest: replays return the same
result and write nothing; 32 concurrent submissions of one key execute once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from drawdown.book import Book, open_book
from drawdown.domain.errors import IdempotencyConflict
from drawdown.domain.holds import Hold
from drawdown.services.usage import IngestReport
from tests.conftest import START, FixedClock
from tests.integration.checker import check
from tests.integration.dump import snapshot

CONCURRENT = 32


def setup(book: Book) -> None:
    book.define_unit("CREDIT", scale=3)
    book.create_account("acme", currency="USD")
    book.define_rate_card("std", "CREDIT", {"api_call": "1"}, effective_at=START - timedelta(days=1))
    book.configure_account("acme", rate_card="std")
    book.define_meter("calls", event_type="api_call", aggregation="count")
    book.issue_grant("acme", "100", "CREDIT", reason_code="welcome")


def test_replaying_a_reserve_returns_the_same_hold_and_writes_nothing(book: Book) -> None:
    setup(book)
    first = book.reserve("acme", "api_call", "5", idempotency_key="r-1")
    before = snapshot(book.engine)
    assert book.reserve("acme", "api_call", "5", idempotency_key="r-1") == first
    assert snapshot(book.engine) == before
    with pytest.raises(IdempotencyConflict):
        book.reserve("acme", "api_call", "6", idempotency_key="r-1")
    assert snapshot(book.engine) == before


def test_replaying_a_capture_or_release_returns_the_resolved_hold_and_writes_nothing(book: Book) -> None:
    setup(book)
    hold = book.reserve("acme", "api_call", "5")
    captured = book.capture(hold.id, "3", idempotency_key="c-1")
    other = book.reserve("acme", "api_call", "5")
    released = book.release(other.id, idempotency_key="x-1")
    before = snapshot(book.engine)
    assert book.capture(hold.id, "3", idempotency_key="c-1") == captured
    assert book.release(other.id, idempotency_key="x-1") == released
    assert snapshot(book.engine) == before


def test_replaying_an_ingest_batch_reports_duplicates_and_writes_nothing(book: Book) -> None:
    setup(book)
    batch = [{"key": f"e{i}", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"} for i in range(50)]
    assert book.ingest(batch).accepted == 50
    before = snapshot(book.engine)
    assert book.ingest(batch).duplicates == 50
    assert snapshot(book.engine) == before


def _concurrently(store_url: str, clock: FixedClock, call: str) -> list[object]:
    books = [open_book(store_url, clock=clock, actor="test") for _ in range(4)]
    try:

        def submit(i: int) -> object:
            book = books[i % len(books)]
            if call == "reserve":
                return book.reserve("acme", "api_call", "5", idempotency_key="same")
            event = {"key": "same", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"}
            return book.ingest([event])

        with ThreadPoolExecutor(CONCURRENT) as pool:
            return list(pool.map(submit, range(CONCURRENT)))
    finally:
        for book in books:
            book.close()


def test_thirty_two_concurrent_reserves_with_one_key_hold_once(book: Book, store_url: str, clock: FixedClock) -> None:
    setup(book)
    holds = _concurrently(store_url, clock, "reserve")
    assert all(isinstance(h, Hold) for h in holds)
    assert len({h.id for h in holds if isinstance(h, Hold)}) == 1
    b = book.balance("acme", "CREDIT")
    assert (b.reserved_units, b.available_units) == (5000, 95000)
    assert check(book.engine) == []


def test_thirty_two_concurrent_ingests_of_one_key_accept_it_once(book: Book, store_url: str, clock: FixedClock) -> None:
    setup(book)
    reports = [r for r in _concurrently(store_url, clock, "ingest") if isinstance(r, IngestReport)]
    statuses = sorted(r.results[0].status for r in reports)
    assert statuses == ["accepted"] + ["duplicate"] * (CONCURRENT - 1)
    [day] = book.meter("calls", "acme", start="2026-03-01T00:00:00Z", end="2026-03-02T00:00:00Z")
    assert day.value == 1
