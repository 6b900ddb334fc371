"""Charging an account: draw credit through the drawdown order and post the burn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from drawdown.domain.accounts import Account, require_id
from drawdown.domain.drawdown import Candidate, Charge, Drawdown, draw, postings
from drawdown.domain.errors import InsufficientCredit, InvalidField
from drawdown.domain.grants import Category, Grant, Target
from drawdown.domain.instants import require_aware
from drawdown.domain.ledger import EntryKind, Transaction, TransactionDraft, TxKind
from drawdown.domain.money import Money, Unit, format_units, parse_amount
from drawdown.services.common import (
    account_of,
    actor_and_reason,
    cap_window,
    idempotency_key,
    not_in_future,
    replay,
    unit_of,
)
from drawdown.services.ports import Deps, UnitOfWork


@dataclass(frozen=True, slots=True)
class DrawRecord:
    grant_id: str
    amount: Money
    position: int


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """What a charge drew, from which grants, and what credit did not cover."""

    transaction: Transaction
    amount: Money
    drawn: Money
    shortfall: Money
    draws: tuple[DrawRecord, ...]
    replayed: bool = False


def charge(
    deps: Deps,
    account: str,
    amount: object,
    unit: str,
    *,
    category: str = "usage",
    product: str = "default",
    at: object = None,
    allow_partial: bool = False,
    actor: str,
    reason: str = "",
    idempotency_key_: str | None = None,
) -> ChargeResult:
    """Burn ``amount`` of ``unit`` for ``product`` at instant ``at`` (default now).

    Without ``allow_partial`` a charge that credit cannot fully cover is refused with
    ``insufficient_credit`` and writes nothing; with it, what can be drawn is drawn and the
    rest is returned as the shortfall.
    """
    who, why = actor_and_reason(actor, reason, reason_required=False)
    key = idempotency_key(deps, idempotency_key_, prefix="charge")
    requested = None if at is None else require_aware(at, field="at")  # checked before waiting for the lock
    target = _target(category, product)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        when = now if requested is None else requested
        not_in_future(when, now, field="at")
        request = {
            "op": "charge", "account": account, "amount": str(amount), "unit": unit,
            "category": str(target.category), "product": target.product, "at": when.isoformat(),
            "allow_partial": allow_partial,
        }  # fmt: skip
        digest, original = replay(uow, key, request)
        if original is not None:
            return _result(original, unit_of(uow, unit), replayed=True)
        payer = account_of(uow, account)
        money_unit = unit_of(uow, unit)
        wanted = Charge(payer.id, money_unit.code, parse_amount(amount, money_unit), target, when)
        result = plan(uow, payer, wanted)
        if result.shortfall_units and not allow_partial:
            raise InsufficientCredit(
                f"eligible credit covers {format_units(result.drawn_units, money_unit)} of "
                f"{format_units(wanted.amount_units, money_unit)} {money_unit.code} for {account}; "
                "nothing was charged (pass allow_partial to draw what there is)",
                field="amount",
                shortfall=format_units(result.shortfall_units, money_unit),
                available=format_units(result.drawn_units, money_unit),
            )
        draft = TransactionDraft(
            kind=TxKind.CHARGE,
            effective_at=when,
            postings=postings(result, EntryKind.CONSUMED),
            actor=who,
            reason=why,
            idempotency_key=key,
            fingerprint=digest,
            links={"account_id": payer.id},
            data={
                "amount_units": wanted.amount_units, "shortfall_units": result.shortfall_units,
                "category": str(target.category), "product": target.product, "policy": str(result.policy),
            },
        )  # fmt: skip
        tx = uow.ledger.post_many([(draft, deps.ids.new("tx"))], now)[0]
    return _result(tx, money_unit)


def plan(uow: UnitOfWork, payer: Account, wanted: Charge) -> Drawdown:
    """Gather the payer's and its ancestors' open grants with cap headroom, and draw."""
    candidates, pool_headroom = candidates_for(uow, payer, wanted.unit, wanted.at)
    return draw(wanted, candidates, payer.drawdown_policy, pool_headroom)


def candidates_for(uow: UnitOfWork, payer: Account, unit: str, at: datetime) -> tuple[list[Candidate], int | None]:
    """The open grants that might pay ``payer`` in ``unit`` at ``at``, each with its period-cap
    headroom, and what is left of the payer's pool cap (``None``: no pool cap)."""
    chain = uow.accounts.chain(payer)
    states = uow.ledger.grant_states([a.id for a in chain], unit, open_only=True)
    zones = {a.id: a.time_zone for a in chain}
    candidates = [
        Candidate(s.grant, s.remaining_units, _grant_headroom(uow, s.grant, at, zones[s.grant.account_id]),
                  pooled=s.grant.account_id != payer.id)
        for s in states
    ]  # fmt: skip
    pool_cap = payer.pool_caps.get(unit)
    pool_headroom = None
    if pool_cap is not None and any(c.pooled for c in candidates):
        start, end = cap_window(pool_cap.period, at, payer.time_zone)
        used = uow.ledger.drawn_between(account_id=payer.id, unit=unit, start=start, end=end, pooled_only=True)
        pool_headroom = max(pool_cap.amount_units - used, 0)
    return candidates, pool_headroom


def candidates_for_many(
    uow: UnitOfWork, payers: Sequence[Account], unit: str, at: datetime
) -> dict[str, tuple[list[Candidate], int | None]]:
    """:func:`candidates_for` for many accounts, with one grant query for those without a
    parent (accounts in a hierarchy are gathered one by one, with their pools). The results
    are independent only if no two of the accounts can draw the same grant."""
    found = {p.id: candidates_for(uow, p, unit, at) for p in payers if p.parent_id is not None}
    roots = {p.id: p for p in payers if p.parent_id is None}
    by_owner: dict[str, list[Candidate]] = {account_id: [] for account_id in roots}
    if roots:
        for s in uow.ledger.grant_states(sorted(roots), unit, open_only=True):
            owner = roots[s.grant.account_id]
            headroom = _grant_headroom(uow, s.grant, at, owner.time_zone)
            by_owner[owner.id].append(Candidate(s.grant, s.remaining_units, headroom))
    found.update({account_id: (cands, None) for account_id, cands in by_owner.items()})
    return found


def _grant_headroom(uow: UnitOfWork, grant: Grant, at: datetime, time_zone: str) -> int | None:
    if grant.period_cap is None:
        return None
    start, end = cap_window(grant.period_cap.period, at, time_zone)
    used = uow.ledger.drawn_between(grant_id=grant.id, start=start, end=end)
    return max(grant.period_cap.amount_units - used, 0)


def _target(category: str, product: str) -> Target:
    try:
        kind = Category(category)
    except ValueError:
        raise InvalidField(f"category {category!r} is not one of {', '.join(Category)}", field="category") from None
    return Target(kind, require_id(product, field="product"))


def _result(tx: Transaction, unit: Unit, *, replayed: bool = False) -> ChargeResult:
    draws = tuple(
        DrawRecord(p.grant_id or "", Money(p.amount, unit), int((p.detail or {})["position"]))
        for p in tx.postings
        if p.kind is EntryKind.CONSUMED
    )
    total = int(tx.data["amount_units"])
    shortfall = int(tx.data["shortfall_units"])
    return ChargeResult(tx, Money(total, unit), Money(total - shortfall, unit), Money(shortfall, unit), draws, replayed)
