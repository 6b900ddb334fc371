"""Invoice runs (I4): finalize one month for every account, restartable and idempotent.

Accounts are finalized a page at a time, one unit of work per page, so a run that stops
half-way keeps every page it finished; running it again skips every account that already
has the month's invoice (the UNIQUE (account, period_start) constraint guarantees there is
never a second one). An account whose invoice cannot be rated (no price book, a currency
mismatch, out of order) is reported and does not stop the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
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
    Rated,
    check_can_finalize,
    compute,
    finalize_invoice,
    freeze,
)
from drawdown.services.ports import Deps, UnitOfWork

FINALIZED = "finalized"
ALREADY = "already_finalized"


@dataclass(frozen=True, slots=True)
class RunReport:
    period: str
    accounts: int
    finalized: int
    already_finalized: int
    failed: dict[str, str] = field(default_factory=dict)  # account -> error code


def run_invoices(
    deps: Deps,
    period: str,
    *,
    actor: str,
    on_progress: Callable[[int, int], None] | None = None,
    page_size: int = limits.INVOICES_PER_RUN_PAGE,
) -> RunReport:
    """Finalize ``period`` (``YYYY-MM``, each account's own time zone) for every account.

    Accounts are finalized a page at a time, each page in one unit of work with its inputs
    loaded in a few queries; an account that cannot be rated is reported, not fatal.
    """
    who, _ = actor_and_reason(actor, None, reason_required=False)
    accounts = _all_accounts(deps, page_size)
    parents = {a.parent_id for a in accounts if a.parent_id is not None}
    # Accounts in a hierarchy may draw the same pooled grants, so each is finalized in its own
    # unit of work, seeing the draws before it; independent accounts go a page at a time.
    pooled = [a for a in accounts if a.parent_id is not None or a.id in parents]
    alone = [a for a in accounts if a.parent_id is None and a.id not in parents]
    results: dict[str, str] = {}
    for start in range(0, len(alone), page_size):
        now = deps.clock.now()
        with deps.uow(write=True) as uow:
            results.update(_finalize_page(deps, uow, alone[start : start + page_size], period, who, now))
        if on_progress is not None:
            on_progress(len(results), len(accounts))
    for account in pooled:
        try:
            view = finalize_invoice(deps, account.id, period, actor=who)
            results[account.id] = ALREADY if view.replayed else FINALIZED
        except DrawdownError as error:
            results[account.id] = error.code
        if on_progress is not None:
            on_progress(len(results), len(accounts))
    failed = {a: code for a, code in results.items() if code not in (FINALIZED, ALREADY)}
    counts = list(results.values())
    return RunReport(period, len(accounts), counts.count(FINALIZED), counts.count(ALREADY), failed)


def _finalize_page(
    deps: Deps, uow: UnitOfWork, payers: Sequence[Account], period: str, who: str, now: datetime
) -> dict[str, str]:
    results: dict[str, str] = {}
    latest = uow.invoices.latest_many([p.id for p in payers])
    books: dict[str, list[PriceBook]] = {}
    ready: list[Rated] = []
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
                    results[payer.id] = ALREADY
                    continue
                if previous is not None and previous.period.start > billing.start:
                    existing = uow.invoices.for_period(payer.id, billing.start)
                    if existing is not None:
                        results[payer.id] = ALREADY
                        continue
                check_can_finalize(payer, billing, now, previous)
                todo.append(payer)
            except DrawdownError as error:
                results[payer.id] = error.code
        loaded_page = _load_page(uow, todo, billing, now, latest)
        for payer in todo:
            loaded = loaded_page[payer.id]
            try:
                ready.append(compute(uow, payer, unit_of(uow, payer.currency), billing, now, loaded, books))
            except DrawdownError as error:
                results[payer.id] = error.code
    for stored in freeze(deps, uow, ready, who, now):
        results[stored.account_id] = FINALIZED
    return results


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
                contracts[p.id], usage[p.id], availability[p.id], latest.get(p.id), candidates, pool, terms[p.id]
            )
    return loaded


def _all_accounts(deps: Deps, page_size: int) -> list[Account]:
    found: list[Account] = []
    with deps.uow(write=False) as uow:
        while page := uow.accounts.page(found[-1].id if found else None, page_size):
            found.extend(page)
    return found
