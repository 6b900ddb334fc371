"""Invoice runs (I4): finalize one month for every account, restartable and idempotent.

Accounts are finalized a page at a time, one unit of work per page, so a run that stops
half-way keeps every page it finished; running it again skips every account that already
has the month's invoice, finalized or voided (a run never re-issues a voided month: that is
an explicit act, ``reissue_invoice``; the UNIQUE (account, period_start, revision)
constraint guarantees a run never writes a second one). An account whose invoice cannot be
rated (no price book, a currency mismatch, out of order) is reported and does not stop the run. With worker processes,
pages are rated ahead of the writes, and a page is used only if nobody else wrote since it
was sent (see :func:`_pipelined`).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.errors import DrawdownError
from drawdown.domain.instants import Period, month_period, zone
from drawdown.domain.invoice_records import StoredInvoice
from drawdown.domain.pricing import PriceBook
from drawdown.services.charges import candidates_for_many
from drawdown.services.commitments import term_invoices
from drawdown.services.common import actor_and_reason, unit_of
from drawdown.services.invoices import (
    Loaded,
    Sealed,
    check_can_finalize,
    compute,
    finalize_invoice,
    freeze,
    seal,
)
from drawdown.services.ports import Deps, UnitOfWork, Workers

log = logging.getLogger("drawdown.invoice_runs")

FINALIZED = "finalized"
ALREADY = "already_finalized"


@dataclass(frozen=True, slots=True)
class RunReport:
    period: str
    accounts: int
    finalized: int
    already_finalized: int
    failed: dict[str, str] = field(default_factory=dict)  # account -> error code
    rerated_pages: int = 0  # pages rated ahead by a worker and rated again: someone else wrote meanwhile


def run_invoices(
    deps: Deps,
    period: str,
    *,
    actor: str,
    on_progress: Callable[[int, int], None] | None = None,
    page_size: int = limits.INVOICES_PER_RUN_PAGE,
    workers: int = 0,
) -> RunReport:
    """Finalize ``period`` (``YYYY-MM``, each account's own time zone) for every account.

    Accounts are finalized a page at a time, each page in one unit of work with its inputs
    loaded in a few queries; an account that cannot be rated is reported, not fatal. With
    ``workers`` (worker processes, on an SQLite file), pages are rated ahead in the workers
    while this process writes the pages before them; see :func:`_pipelined`.
    """
    who, _ = actor_and_reason(actor, None, reason_required=False)
    # Worker processes take a while to start: they start now, while the accounts are read.
    with _workers_for(deps, workers) as pool:
        return _run(deps, period, who, on_progress, page_size, workers, pool)


def _workers_for(deps: Deps, workers: int) -> AbstractContextManager[Workers | None]:
    """Worker processes when they can rate ahead: asked for, and on a store with a pinned
    connection (an SQLite file); otherwise none."""
    if workers > 0 and deps.workers is not None and deps.pinned is not None:
        return deps.workers(workers)
    return nullcontext(None)


def _run(
    deps: Deps,
    period: str,
    who: str,
    on_progress: Callable[[int, int], None] | None,
    page_size: int,
    workers: int,
    pool: Workers | None,
) -> RunReport:
    accounts = _all_accounts(deps, page_size)
    parents = {a.parent_id for a in accounts if a.parent_id is not None}
    # Accounts in a hierarchy may draw the same pooled grants, so each is finalized in its own
    # unit of work, seeing the draws before it; independent accounts go a page at a time.
    pooled = [a for a in accounts if a.parent_id is not None or a.id in parents]
    alone = [a for a in accounts if a.parent_id is None and a.id not in parents]
    pages = [alone[start : start + page_size] for start in range(0, len(alone), page_size)]
    results: dict[str, str] = {}

    def written(page_results: dict[str, str]) -> None:
        results.update(page_results)
        if on_progress is not None:
            on_progress(len(results), len(accounts))

    rerated = None
    if pool is not None and len(pages) > 1:
        rerated = _pipelined(deps, pool, pages, period, who, min(workers, len(pages) - 1), written)
    if rerated is None:  # in this process, a page at a time
        for page in pages:
            with deps.uow(write=True) as uow:
                now = deps.clock.now()  # under the writer lock, so instants follow the commit order
                done = _write(deps, uow, rate_page_in(uow, page, period, now), who, now)
            written(done)
    for account in pooled:
        try:
            view = finalize_invoice(deps, account.id, period, actor=who)
            written({account.id: ALREADY if view.replayed else FINALIZED})
        except DrawdownError as error:
            written({account.id: error.code})
    failed = {a: code for a, code in results.items() if code not in (FINALIZED, ALREADY)}
    counts = list(results.values())
    return RunReport(period, len(accounts), counts.count(FINALIZED), counts.count(ALREADY), failed, rerated or 0)


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """A page rated and sealed, not yet written: the accounts settled without an invoice
    (already finalized, or an error code) and the invoices to freeze."""

    settled: dict[str, str]
    sealed: list[Sealed]


def rate_page(deps: Deps, payers: Sequence[Account], period: str, now: datetime) -> PageOutcome:
    """:func:`rate_page_in` in a read-only unit of work of its own (a worker's task)."""
    with deps.uow(write=False) as uow:
        return rate_page_in(uow, payers, period, now)


def rate_page_in(uow: UnitOfWork, payers: Sequence[Account], period: str, now: datetime) -> PageOutcome:
    """Rate, apply credits to and seal the month's invoice of each of ``payers``; reads only."""
    settled: dict[str, str] = {}
    latest = uow.invoices.latest_many([p.id for p in payers])
    books: dict[str, list[PriceBook]] = {}
    sealed: list[Sealed] = []
    zones: dict[str, list[Account]] = defaultdict(list)
    for payer in payers:
        zones[payer.time_zone].append(payer)
    for time_zone, group in sorted(zones.items()):
        billing = month_period(period, zone(time_zone))
        todo = []
        for payer in group:
            previous = latest.get(payer.id)
            try:
                if previous is not None and previous.period.start == billing.start:
                    settled[payer.id] = ALREADY
                    continue
                if previous is not None and previous.period.start > billing.start:
                    existing = uow.invoices.for_period(payer.id, billing.start)
                    if existing is not None:
                        settled[payer.id] = ALREADY
                        continue
                check_can_finalize(payer, billing, now, previous)
                todo.append(payer)
            except DrawdownError as error:
                settled[payer.id] = error.code
        loaded_page = _load_page(uow, todo, billing, now, latest)
        for payer in todo:
            loaded = loaded_page[payer.id]
            try:
                sealed.append(seal(compute(uow, payer, unit_of(uow, payer.currency), billing, now, loaded, books)))
            except DrawdownError as error:
                settled[payer.id] = error.code
    return PageOutcome(settled, sealed)


def _write(deps: Deps, uow: UnitOfWork, outcome: PageOutcome, who: str, now: datetime) -> dict[str, str]:
    freeze(deps, uow, outcome.sealed, who, now)
    return {**outcome.settled, **{s.account_id: FINALIZED for s in outcome.sealed}}


def _pipelined(
    deps: Deps,
    pool: Workers,
    pages: list[list[Account]],
    period: str,
    who: str,
    workers: int,
    written: Callable[[dict[str, str]], None],
) -> int | None:
    """Rate pages in worker processes, ahead of the writes, and write each one here.

    This process's units of work all run on one pinned connection. A page is sent to a
    worker with the instant it is rated at and the connection's change marker, read in a
    unit of work just before; the worker rates it in a read transaction of its own, which
    starts after that. The page is written in a later write unit of work (holding the
    writer lock) only if the marker there is the same, i.e. nobody else committed in
    between: the worker then saw what the writer sees, give or take this run's own writes,
    which touch only other pages' accounts (pooled accounts are never on a page). Otherwise,
    or if the worker failed, the page is rated again under the lock, as the sequential run
    does; after a worker fails, no more pages are sent and the rest are rated here. Pages
    are written in order, and their instants follow that order. Returns how many pages sent
    to a worker had to be rated again, or None, having written nothing,
    when there is nothing to rate ahead with (no change marker for this store, or a run
    repeated after it finished).
    """
    assert deps.pinned is not None, "workers are given only with a pinned connection"
    rerated = 0
    with deps.pinned() as uow_here:
        first_now = deps.clock.now()
        with uow_here(write=False) as uow:
            first_marker = uow.change_marker()
            # None: the store cannot tell foreign commits. A run repeated after it finished
            # has nothing to rate ahead (one restarted after a stop has its last page to do).
            if first_marker is None or not _unfinalized(uow, [*pages[0], *pages[-1]], period):
                return None
        queue = deque(pages[1:])
        in_flight: deque[tuple[list[Account], Future[PageOutcome], Hashable, datetime]] = deque()
        failed = False  # a worker failed, or the workers took no work: the rest is rated here

        def send(marker: Hashable) -> None:
            nonlocal failed
            while not failed and queue and len(in_flight) < 2 * workers:
                page, now = queue[0], deps.clock.now()
                try:
                    future = pool.submit(rate_page, page, period, now)
                except Exception:  # e.g. no process could be started: the page stays queued
                    log.warning("the workers took no page; rating the rest in this process", exc_info=True)
                    failed = True
                    return
                queue.popleft()
                in_flight.append((page, future, marker, now))

        # The first page is rated here, as in the sequential run, while the workers start:
        # sending the first pages waits for the worker processes, so a thread sends them.
        starting = threading.Thread(target=send, args=(first_marker,), name="drawdown-run-start")
        starting.start()
        try:
            with uow_here(write=True) as uow:
                done = _write(deps, uow, rate_page_in(uow, pages[0], period, first_now), who, first_now)
        finally:
            starting.join()
        written(done)
        while in_flight or queue:  # each write sends the next pages, so the queue drains here
            outcome: PageOutcome | None = None
            if in_flight:
                page, future, sent, now = in_flight.popleft()
                outcome = _result(future)
                failed = failed or outcome is None
            else:  # a worker failed: the pages not sent yet are rated here, one by one
                page, sent = queue.popleft(), None
            with uow_here(write=True) as uow:
                marker = uow.change_marker()
                if outcome is None or marker != sent:
                    rerated += sent is not None
                    now = deps.clock.now()
                    outcome = rate_page_in(uow, page, period, now)
                done = _write(deps, uow, outcome, who, now)
                send(marker)
            written(done)
    return rerated


def _unfinalized(uow: UnitOfWork, payers: Sequence[Account], period: str) -> bool:
    """Whether any of ``payers`` has no invoice for ``period`` yet."""
    latest = uow.invoices.latest_many([p.id for p in payers])
    return any(
        (previous := latest.get(p.id)) is None or previous.period.start < month_period(period, zone(p.time_zone)).start
        for p in payers
    )


def _result(future: Future[PageOutcome]) -> PageOutcome | None:
    """The worker's outcome, or None when there is none to use (the page is then rated here)."""
    try:
        return future.result()
    except Exception:  # a broken worker or pool: rating the page here raises what is real
        log.warning("a worker could not rate a page; rating it in this process", exc_info=True)
        return None


def _load_page(
    uow: UnitOfWork, payers: list[Account], billing: Period, now: datetime, latest: dict[str, StoredInvoice]
) -> dict[str, Loaded]:
    """The inputs of a page of accounts sharing one time zone, in a few queries."""
    if not payers:
        return {}
    ids = [p.id for p in payers]
    contracts = uow.contracts.versions_many(ids)
    usage = uow.usage.totals_many(ids, billing, recorded_until=now)
    availability = uow.availability.records_many(ids, billing)
    terms = term_invoices(uow, payers, billing, contracts)
    loaded: dict[str, Loaded] = {}
    for currency in sorted({p.currency for p in payers}):
        same = [p for p in payers if p.currency == currency]
        grants = candidates_for_many(uow, same, currency, now)
        for p in same:
            candidates, pool = grants[p.id]
            loaded[p.id] = Loaded(
                contracts[p.id], usage[p.id], availability[p.id], latest.get(p.id), candidates, pool, terms[p.id], now
            )
    return loaded


def _all_accounts(deps: Deps, page_size: int) -> list[Account]:
    found: list[Account] = []
    with deps.uow(write=False) as uow:
        while page := uow.accounts.page(found[-1].id if found else None, page_size):
            found.extend(page)
    return found
