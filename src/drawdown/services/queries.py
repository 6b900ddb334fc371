"""Reading balances, grants and ledger history, and verifying the hash chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.audit import AuditRecord
from drawdown.domain.balances import Balance, GrantState, summarize
from drawdown.domain.errors import InvalidField
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import GENESIS_HASH, ChainBreak, Transaction, verify_chain
from drawdown.domain.money import Unit
from drawdown.services.common import account_of, cap_window, grant_not_found, instant, unit_of
from drawdown.services.ports import Deps, UnitOfWork

VERIFY_BATCH = 2_000


def unit(deps: Deps, code: str) -> Unit:
    with deps.uow(write=False) as uow:
        return unit_of(uow, code)


def balance(deps: Deps, account: str, unit: str | None = None, *, as_of: object = None) -> Balance:
    """An account's balance in ``unit`` (default: its currency) now or as of an instant.

    ``pooled_available_units`` is what the account may also draw from its ancestors'
    grants, after its own sub-budget cap.
    """
    now = deps.clock.now()
    if as_of is None and deps.current_balances is not None and isinstance(account, str):
        fast = deps.current_balances.current(account, unit, now)
        if fast is not None:
            return fast
    with deps.uow(write=False) as uow:
        payer = account_of(uow, account)
        code = unit_of(uow, unit or payer.currency).code
        when = instant(as_of, field="as_of", default=now)
        own = _balance(uow, payer.id, code, when, current=as_of is None)
        pooled: int = sum(
            _balance(uow, ancestor.id, code, when, current=as_of is None).available_units
            for ancestor in uow.accounts.chain(payer)[1:]
        )
        cap = payer.pool_caps.get(code)
        if cap is not None and pooled:
            start, end = cap_window(cap.period, when, payer.time_zone)
            used = uow.ledger.drawn_between(account_id=payer.id, unit=code, start=start, end=end, pooled_only=True)
            pooled = min(pooled, max(cap.amount_units - used, 0))
        return own._replace(pooled_available_units=pooled)


def current_balance(uow: UnitOfWork, account_id: str, unit: str, now: datetime) -> Balance:
    """The account's own balance now, from the cache when it is still valid."""
    return _balance(uow, account_id, unit, now, current=True)


def _balance(uow: UnitOfWork, account_id: str, unit: str, when: datetime, *, current: bool) -> Balance:
    if current:
        cached = uow.ledger.cached_balance(account_id, unit, when)
        if cached is not None:
            return cached
        return summarize(account_id, unit, when, uow.ledger.grant_states([account_id], unit),
                         uow.ledger.kind_totals(account_id, unit))  # fmt: skip
    states, totals = uow.ledger.states_as_of(account_id, unit, when)
    return summarize(account_id, unit, when, states, totals)


@dataclass(frozen=True, slots=True)
class GrantView:
    """A grant with its figures and status at an instant."""

    state: GrantState
    status: str


def grants(deps: Deps, account: str, unit: str | None = None, *, as_of: object = None) -> list[GrantView]:
    now = deps.clock.now()
    with deps.uow(write=False) as uow:
        payer = account_of(uow, account)
        code = unit_of(uow, unit or payer.currency).code
        when = instant(as_of, field="as_of", default=now)
        if as_of is None:
            states = uow.ledger.grant_states([payer.id], code)
        else:
            states = uow.ledger.states_as_of(payer.id, code, when)[0]
        return [GrantView(s, str(s.status(when))) for s in states]


def ledger(
    deps: Deps, account: str, *, as_of: object = None, after_seq: int = 0, limit: int = 100
) -> list[Transaction]:
    """Transactions that touched an account, oldest first, effective no later than ``as_of``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= limits.LEDGER_PAGE_SIZE_MAX:
        raise InvalidField(f"limit must be from 1 to {limits.LEDGER_PAGE_SIZE_MAX}", field="limit")
    with deps.uow(write=False) as uow:
        payer = account_of(uow, account)
        until = None if as_of is None else to_micros(instant(as_of, field="as_of", default=deps.clock.now()))
        return uow.ledger.history(payer.id, until, after_seq, limit)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    transactions: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None


def verify(deps: Deps) -> VerifyReport:
    """Recompute the whole hash chain and report the first broken link, if any.

    The chain is checked up to the head read at the start, in seq windows, so a missing
    transaction anywhere (including the newest) shows up as a gap or a head mismatch.
    """
    with deps.uow(write=False) as uow:
        head_seq, head_hash = uow.ledger.head()
        prev, expected = GENESIS_HASH, 1
        while expected <= head_seq:
            window_end = min(head_seq, expected - 1 + VERIFY_BATCH)
            links = uow.ledger.scan_links(expected - 1, window_end, VERIFY_BATCH)
            broken = verify_chain(links, prev, expected)
            if broken is None and (not links or links[-1].seq != window_end):
                broken = ChainBreak(window_end if not links else links[-1].seq + 1, "", "transaction missing")
            if broken is not None:
                return VerifyReport(False, broken.seq - 1, head_seq, head_hash, broken)
            prev, expected = links[-1].hash, window_end + 1
        if prev != head_hash:
            problem = "the newest transaction's hash differs from the one recorded in the ledger head"
            return VerifyReport(False, head_seq - 1, head_seq, head_hash, ChainBreak(head_seq, "", problem))
        return VerifyReport(True, head_seq, head_seq, head_hash, None)


def account(deps: Deps, account_id: str) -> Account:
    with deps.uow(write=False) as uow:
        return account_of(uow, account_id)


def accounts(deps: Deps, *, after: str | None = None, limit: int = 100, parent: str | None = None) -> list[Account]:
    """Accounts in id order after the cursor ``after``, optionally only ``parent``'s children."""
    _check_limit(limit)
    with deps.uow(write=False) as uow:
        return uow.accounts.page(after, limit, parent=parent)


def grant(deps: Deps, grant_id: str, *, as_of: object = None) -> GrantView:
    """One grant with its figures and status now (or as of an instant)."""
    now = deps.clock.now()
    with deps.uow(write=False) as uow:
        found = uow.grants.get(grant_id) if isinstance(grant_id, str) else None
        if found is None:
            raise grant_not_found(grant_id)
        when = instant(as_of, field="as_of", default=now)
        if as_of is None:
            states = uow.ledger.grant_states([found.account_id], found.unit, grant_id=found.id)
        else:
            states = [
                s for s in uow.ledger.states_as_of(found.account_id, found.unit, when)[0] if s.grant.id == grant_id
            ]
        if not states:
            raise grant_not_found(grant_id)
        return GrantView(states[0], str(states[0].status(when)))


def audit(deps: Deps, *, after: str | None = None, limit: int = 100, account: str | None = None) -> list[AuditRecord]:
    """Audit records in time order after the cursor ``after``, optionally for one account."""
    _check_limit(limit)
    with deps.uow(write=False) as uow:
        return uow.audit.page(after, limit, account_id=account)


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise InvalidField(f"limit must be from 1 to {limits.PAGE_SIZE_MAX}", field="limit")
