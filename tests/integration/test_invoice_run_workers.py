"""Invoice runs that rate pages ahead in worker processes write exactly what a sequential run
writes, and re-rate any page someone else may have changed in the meantime."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drawdown.book import Book, open_book
from drawdown.services.invoice_runs import RunReport, run_invoices
from drawdown.services.ports import Deps, Workers
from drawdown.storage.workers import process_workers
from tests.conftest import FixedClock
from tests.integration.dump import snapshot

PRICES: list[dict[str, Any]] = [
    {"product": "api", "category": "usage", "model": "per_unit", "unit_price": "0.01"},
    {"product": "gpu", "category": "usage", "model": "graduated",
     "tiers": [{"up_to": "100", "unit_price": "1"}, {"up_to": None, "unit_price": "0.5"}]},
    {"product": "seat", "category": "license", "model": "per_unit", "unit_price": "20"},
]  # fmt: skip
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata")
PAGE = 4  # accounts per page: the world below makes eight pages


class CountingIds:
    """Ids in the order they are asked for, so two runs that write the same things in the same
    order write byte-identical rows."""

    def __init__(self) -> None:
        self.count = 0

    def new(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count:08}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def world(book: Book, clock: FixedClock) -> None:
    """30 accounts on pages, a pooled parent with two children, and what makes invoices differ:
    time zones, grants at three scopes, contracts with discounts, rebates (as a grant and as a
    credit note) and an SLA credit, a currency no price book bills, and a month already invoiced."""
    rnd = random.Random(7)
    clock.at = at("2026-09-01T00:00:00")
    book.publish_price_book("default", "USD", PRICES, effective_at=at("2026-01-01T00:00:00"))
    for i in range(30):
        name = f"acct-{i:02}"
        book.create_account(name, currency="EUR" if i == 13 else "USD", time_zone=ZONES[i % len(ZONES)])
        if i % 3 == 0:
            book.issue_grant(name, str(rnd.randint(1, 40)), "USD" if i != 13 else "EUR", reason_code="promo")
        if i % 5 == 1:
            book.issue_grant(name, "7.5", "USD", scope="products:gpu", reason_code="gpu-credit")
        if i % 7 == 2:
            book.issue_grant(name, "3", "USD", scope="category:usage", reason_code="usage-credit")
        if i % 4 == 0:
            terms: dict[str, Any] = {"discounts": [{"rule": "all-10", "percent": "10"}], "quantities": {"seat": "2"}}
            if i % 8 == 0:
                terms["rebates"] = [{"rule": "rebate-5", "threshold": "10", "percent": "5",
                                     "settlement": "credit_note" if i % 16 == 0 else "grant"}]  # fmt: skip
            if i % 12 == 0:
                terms["sla"] = [{"rule": "sla-gpu", "products": ["gpu"],
                                 "steps": [{"below_percent": "99.9", "credit_percent": "10"}]}]  # fmt: skip
                book.record_availability(name, "gpu", "99.5", f"INC-{i}", occurred_at="2026-10-10T00:00:00+00:00")
            book.amend_contract(name, terms, effective_at=at("2026-09-01T00:00:00"))
        usage = [
            {"event_id": f"{name}-{n}", "product": rnd.choice(("api", "gpu")), "quantity": str(rnd.randint(1, 400)),
             "occurred_at": (at("2026-10-01T00:00:00") + timedelta(minutes=rnd.randint(0, 44_000))).isoformat()}
            for n in range(rnd.randint(0, 12))
        ]  # fmt: skip
        if usage:
            book.record_usage(name, usage)
    book.create_account("pool", currency="USD")
    book.issue_grant("pool", "15", "USD", reason_code="pool")
    for kid in ("pool-a", "pool-b"):
        book.create_account(kid, currency="USD", parent="pool")
        book.record_usage(kid, [{"event_id": f"{kid}-1", "product": "api", "quantity": "1000",
                                 "occurred_at": "2026-10-03T10:00:00+00:00"}])  # fmt: skip
    clock.at = at("2026-11-02T00:00:00")
    book.finalize_invoice("acct-05", "2026-10")  # already invoiced when the run starts


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """The world in an SQLite file, closed (its WAL checkpointed) so it can be copied."""
    path, clock = tmp_path / "world.db", FixedClock()
    with open_book(f"sqlite:///{path}", clock=clock, actor="test") as book:
        world(book, clock)
    return path


@contextmanager
def copy_of(built: Path, name: str) -> Iterator[tuple[Book, Deps]]:
    path = built.with_name(name)
    shutil.copy(built, path)
    with open_book(f"sqlite:///{path}", clock=FixedClock(at("2026-11-02T00:00:00")), actor="test") as book:
        yield book, replace(book.deps, ids=CountingIds())


def run(deps: Deps, **options: Any) -> RunReport:
    return run_invoices(deps, "2026-10", actor="test", page_size=PAGE, **options)


def test_a_run_with_worker_processes_writes_byte_for_byte_what_a_sequential_run_writes(built: Path) -> None:
    with copy_of(built, "sequential.db") as (book, deps):
        sequential = run(deps)
        expected = snapshot(book.engine)
    with copy_of(built, "workers.db") as (book, deps):
        progress: list[tuple[int, int]] = []
        parallel = run(deps, workers=2, on_progress=lambda done, total: progress.append((done, total)))
        found = snapshot(book.engine)
        assert book.verify().ok
        again = run(deps, workers=2)
        assert snapshot(book.engine) == found
    assert (again.finalized, again.already_finalized, again.rerated_pages) == (0, 32, 0)
    assert sequential == parallel
    assert (parallel.finalized, parallel.already_finalized, parallel.failed) == (31, 1, {"acct-13": "unit_mismatch"})
    assert parallel.rerated_pages == 0
    assert found == expected
    assert found["invoices"]
    assert found["credit_notes"]
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert progress[-1] == (33, 33)


class RatedAtOnce:
    """Workers that rate a page the moment it is sent (through the store's ordinary units of
    work, on another connection), so the outcome predates anything committed afterwards."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sent = 0

    def submit(self, task: Callable[..., Any], /, *args: Any) -> Future[Any]:
        self.sent += 1
        future: Future[Any] = Future()
        future.set_result(task(self.deps, *args))
        return future


def with_workers(deps: Deps, workers: Workers) -> Deps:
    @contextmanager
    def factory(count: int) -> Iterator[Workers | None]:
        yield workers

    return replace(deps, workers=factory)


def test_a_page_rated_before_someone_else_wrote_is_rated_again_and_sees_the_write(built: Path) -> None:
    with copy_of(built, "stale.db") as (book, deps):
        workers = RatedAtOnce(deps)
        other = open_book(f"sqlite:///{built.with_name('stale.db')}", clock=FixedClock(at("2026-11-02T00:00:00")))

        def meanwhile(done: int, total: int) -> None:
            if done == PAGE:  # the first page is written; the next pages were rated already
                other.issue_grant("acct-06", "2", "USD", reason_code="goodwill")

        report = run(with_workers(deps, workers), workers=2, on_progress=meanwhile)
        other.close()
        invoice = book.finalize_invoice("acct-06", "2026-10")
        assert book.verify().ok
    assert workers.sent >= 4
    assert report.rerated_pages >= 1
    drawn = {d["reason_code"] for line in invoice.document["lines"] for d in line["credits"]}
    assert "goodwill" in drawn


def test_pages_rated_ahead_are_used_when_nobody_else_writes(built: Path) -> None:
    with copy_of(built, "quiet.db") as (_book, deps):
        workers = RatedAtOnce(deps)
        report = run(with_workers(deps, workers), workers=2)
        expected_failed = {"acct-13": "unit_mismatch"}
    assert (report.finalized, report.failed, report.rerated_pages) == (31, expected_failed, 0)
    assert workers.sent == 7  # every page but the first, which is rated while the workers start


class Broken:
    def submit(self, task: Callable[..., Any], /, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(RuntimeError("the worker process died"))
        return future


def test_a_page_whose_worker_failed_is_rated_here(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with copy_of(built, "expected.db") as (book, deps):
        run(deps)
        expected = snapshot(book.engine)
    with copy_of(built, "broken.db") as (book, deps):
        report = run(with_workers(deps, Broken()), workers=2)
        assert snapshot(book.engine) == expected
    # the four pages in flight (two per worker) are rated again; the three never sent are rated here
    assert (report.finalized, report.rerated_pages) == (31, 4)
    assert "a worker could not rate a page" in caplog.text


def _die(_deps: Deps, *_args: Any) -> None:
    os._exit(3)  # as a worker the kernel's OOM killer picked would


class OneDies:
    """Real worker processes, the second task of which kills its worker: the pool is broken
    from then on, for the pages in flight and for every page sent after."""

    def __init__(self, real: Workers) -> None:
        self.real = real
        self.sent = 0

    def submit(self, task: Callable[..., Any], /, *args: Any) -> Future[Any]:
        self.sent += 1
        return self.real.submit(_die if self.sent == 2 else task, *args)


def test_a_run_whose_worker_process_dies_rates_the_remaining_pages_here(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with copy_of(built, "expected.db") as (book, deps):
        run(deps)
        expected = snapshot(book.engine)
    path = built.with_name("dies.db")
    with copy_of(built, path.name) as (book, deps), process_workers(f"sqlite:///{path}", 2) as real:
        assert real is not None
        workers = OneDies(real)
        report = run(with_workers(deps, workers), workers=2)
        assert snapshot(book.engine) == expected
        assert book.verify().ok
    assert (report.finalized, report.failed) == (31, {"acct-13": "unit_mismatch"})
    # Four pages are sent at the start; one more only if the first came back before the pool
    # broke. Nothing is sent once a failure shows: the rest are rated here.
    assert workers.sent in (4, 5)
    assert 1 <= report.rerated_pages <= 4
    assert "a worker could not rate a page" in caplog.text


class TakeNoWork(RatedAtOnce):
    """Workers whose first submit raises, as when no worker process can be started."""

    def submit(self, task: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self.sent == 0:
            self.sent += 1
            raise OSError(24, "Too many open files")
        return super().submit(task, *args)


def test_a_run_whose_workers_take_no_work_rates_every_page_here(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with copy_of(built, "expected.db") as (book, deps):
        run(deps)
        expected = snapshot(book.engine)
    with copy_of(built, "nowork.db") as (book, deps):
        workers = TakeNoWork(deps)
        report = run(with_workers(deps, workers), workers=2)
        assert snapshot(book.engine) == expected
    assert (report.accounts, report.finalized, report.already_finalized) == (33, 31, 1)
    assert report.failed == {"acct-13": "unit_mismatch"}
    assert workers.sent == 1  # nothing is sent once the workers refused a page
    assert "the workers took no page" in caplog.text
