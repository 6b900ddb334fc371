"""The upkeep sweep: holds past their TTL released, lapsed grants expired, async usage
burned — once each, however often sweeps run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

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


def _behind_a_held_lock(book: Book, clock: FixedClock, call: Callable[[Book], Sequence[Any]]) -> Sequence[Any]:
    """Run ``call`` in a thread queued behind the writer lock, an hour passing while it waits."""
    real = book.deps.uow
    asked = threading.Event()
    answers: list[Sequence[Any]] = []
    failures: list[BaseException] = []

    def uow(*, write: bool = False) -> Any:
        if write and threading.current_thread() is not threading.main_thread():
            asked.set()  # the sweep is about to take the lock, and will wait for it
        return real(write=write)

    def sweep() -> None:
        try:
            answers.append(call(book))
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    book.deps = replace(book.deps, uow=uow)
    thread = threading.Thread(target=sweep)
    with real(write=True):  # a writer ahead, e.g. an invoice run
        thread.start()
        assert asked.wait(10)
        clock.advance(hours=1)
    thread.join(10)
    assert not thread.is_alive()
    assert failures == []
    return answers[0]


def _lapsing(book: Book) -> tuple[str, str]:
    """A grant that lapses, and a hold whose TTL passes, within the hour: ``(grant id, hold id)``."""
    book.define_unit("CREDIT", scale=3)
    book.define_rate_card("std", "CREDIT", {"call": "1"}, effective_at=START - timedelta(days=1))
    book.create_account("acme", currency="USD")
    book.configure_account("acme", rate_card="std")
    grant = book.issue_grant("acme", "5", "CREDIT", reason_code="promo", expires_at=START + timedelta(minutes=30))
    return grant.id, book.reserve("acme", "call", "2", ttl_seconds=600).id


def test_a_grant_expiry_that_waited_for_the_writer_lock_expires_the_grants_lapsed_when_it_took_it(
    book: Book, clock: FixedClock
) -> None:
    """Its cutoff is read under the lock, as its stamp is: an expiry sweep stamped after a
    grant lapsed does not leave that grant unexpired."""
    grant_id, _ = _lapsing(book)
    [expiry] = _behind_a_held_lock(book, clock, lambda b: b.expire_due())
    assert (expiry.links["grant_id"], expiry.effective_at, expiry.recorded_at) == (
        grant_id, START + timedelta(minutes=30), clock.at
    )  # fmt: skip
    assert [(view.state.remaining_units, view.status) for view in book.grants("acme", "CREDIT")] == [(0, "expired")]


def test_a_hold_expiry_that_waited_for_the_writer_lock_releases_the_holds_due_when_it_took_it(
    book: Book, clock: FixedClock
) -> None:
    _, hold_id = _lapsing(book)
    [released] = _behind_a_held_lock(book, clock, lambda b: b.expire_holds())
    assert (released.id, released.status, released.resolved_at) == (hold_id, "expired", clock.at)
