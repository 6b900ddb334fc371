"""Usage is stamped ``recorded_at`` under the writer lock, so stamps follow the commit order.

The same holds for every ledger transaction: a balance as of an instant counts what was
recorded by then, so a transaction committed after another must not be stamped before it.
An invoice bills the usage recorded up to its instant and leaves what is recorded later to
the next invoice as late usage. A writer that read the clock and then waited for the
writer lock while an invoice was being finalized would commit usage stamped before the
invoice's instant that the invoice never saw, and that the next invoice's late-usage query
skips. Each test holds the writer lock (as such an invoice would), lets a writer queue
behind it, reads the clock as the invoice's instant, and then checks the writer's stamp.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from drawdown.book import Book, open_book
from drawdown.domain.instants import to_micros
from tests.conftest import START


class TickingClock:
    """Each reading is one second after the one before, so readings show their order."""

    def __init__(self) -> None:
        self.at = START
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            self.at += timedelta(seconds=1)
            return self.at


def _stamped_behind_a_held_lock(
    store_url: str, write: Callable[[Book], object], query: str, prepare: Callable[[Book], object] = lambda _: None
) -> tuple[int, int]:
    """``(the lock holder's instant, the queued writer's recorded_at)``."""
    clock = TickingClock()
    with open_book(store_url, clock=clock, actor="test") as book:
        book.create_account("acme", currency="USD")
        book.define_meter("calls", event_type="api_call", aggregation="sum")
        prepare(book)
        real = book.deps.uow
        asked = threading.Event()
        failures: list[BaseException] = []

        def uow(*, write: bool = False) -> Any:
            if write and threading.current_thread() is not threading.main_thread():
                asked.set()  # the queued writer is about to take the lock, and will wait for it
            return real(write=write)

        def writer() -> None:
            try:
                write(book)
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        book.deps = replace(book.deps, uow=uow)
        thread = threading.Thread(target=writer)
        with real(write=True):  # the writer ahead, e.g. an invoice being finalized
            thread.start()
            assert asked.wait(10)
            ahead = to_micros(clock.now())  # the instant the writer ahead records
        thread.join(10)
        assert not thread.is_alive()
        assert failures == []
        with book.engine.connect() as conn:
            recorded = conn.execute(text(query)).scalar_one()
    return ahead, recorded


def test_ingested_events_are_stamped_after_the_writer_ahead_of_them(store_url: str) -> None:
    event = {"key": "late", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"}
    ahead, recorded = _stamped_behind_a_held_lock(
        store_url, lambda book: book.ingest([event]), "SELECT recorded_at FROM usage_events WHERE key = 'late'"
    )
    assert recorded > ahead


def test_ndjson_events_are_stamped_after_the_writer_ahead_of_them(store_url: str) -> None:
    line = b'{"key": "late", "account": "acme", "type": "api_call", "time": "2026-03-01T11:00:00Z"}\n'
    ahead, recorded = _stamped_behind_a_held_lock(
        store_url, lambda book: book.ingest_ndjson(line), "SELECT recorded_at FROM usage_events WHERE key = 'late'"
    )
    assert recorded > ahead


def test_recorded_usage_is_stamped_after_the_writer_ahead_of_it(store_url: str) -> None:
    usage = [{"event_id": "late", "product": "api", "quantity": "5", "occurred_at": "2026-03-01T11:00:00Z"}]
    ahead, recorded = _stamped_behind_a_held_lock(
        store_url,
        lambda book: book.record_usage("acme", usage),
        "SELECT recorded_at FROM usage_lines WHERE event_id = 'late'",
    )
    assert recorded > ahead


def _last_transaction(kind: str) -> str:
    return f"SELECT recorded_at FROM ledger_transactions WHERE kind = '{kind}' ORDER BY seq DESC LIMIT 1"


def test_an_issued_grant_is_stamped_after_the_writer_ahead_of_it(store_url: str) -> None:
    ahead, recorded = _stamped_behind_a_held_lock(
        store_url,
        lambda book: book.issue_grant("acme", "5", "USD", reason_code="promo"),
        _last_transaction("grant_issued"),
    )
    assert recorded > ahead


def test_a_void_is_stamped_after_the_writer_ahead_of_it(store_url: str) -> None:
    granted: list[str] = []
    ahead, recorded = _stamped_behind_a_held_lock(
        store_url,
        lambda book: book.void_grant(granted[0], reason="issued in error"),
        _last_transaction("void"),
        prepare=lambda book: granted.append(book.issue_grant("acme", "5", "USD", reason_code="promo").id),
    )
    assert recorded > ahead


def test_a_charge_is_stamped_after_the_writer_ahead_of_it(store_url: str) -> None:
    ahead, recorded = _stamped_behind_a_held_lock(
        store_url,
        lambda book: book.charge("acme", "2", "USD", product="api"),
        _last_transaction("charge"),
        prepare=lambda book: book.issue_grant("acme", "5", "USD", reason_code="promo"),
    )
    assert recorded > ahead


def test_an_invoice_run_is_stamped_after_the_writer_ahead_of_it(store_url: str) -> None:
    """Its invoices' instant, and the ledger transaction applying credit to them, come from
    the clock read under the lock, as a single invoice's do."""

    def prepare(book: Book) -> None:
        book.publish_price_book(
            "default", "USD", [{"product": "api", "category": "usage", "model": "per_unit", "unit_price": "0.01"}],
            effective_at=START - timedelta(days=90),
        )  # fmt: skip
        book.issue_grant("acme", "5", "USD", reason_code="promo")
        usage = {"event_id": "feb", "product": "api", "quantity": "100", "occurred_at": "2026-02-10T10:00:00Z"}
        book.record_usage("acme", [usage])

    ahead, recorded = _stamped_behind_a_held_lock(
        store_url, lambda book: book.run_invoices("2026-02"), _last_transaction("invoice"), prepare=prepare
    )
    assert recorded > ahead
