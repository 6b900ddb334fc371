"""The drawdown engine: which grants pay a charge, in which order, and why.

``draw`` is a pure function of the candidate grants (with what is left of each and any cap
headroom) and the charge. It returns the draws and the shortfall; ``drawn + shortfall ==
charge`` always. Eligible grants are taken in one total order, so the same inputs always
give the same draws. The published orders (docs/ARCHITECTURE.md repeats them):

``default``
    1. priority, ascending (1 burns first)
    2. expires_at, soonest first; grants that never expire last
    3. promotional (cost basis 0) before paid
    4. narrowest scope first: named products (fewest first), then a category, then invoice
    5. effective_at, earliest first
    6. creation sequence, earliest first
    7. grant id

``fifo`` (FinOps: first in, first out by issue date)
    1. effective_at (the issue date), earliest first
    2. creation sequence, earliest first
    3. grant id

A grant is eligible when it is in the charge's unit, active at the charge instant
(``effective_at <= at < expires_at``), its scope covers the charge's target, and it has
something left. Every draw records its position in the order and the key that placed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import DrawdownPolicy
from drawdown.domain.grants import Grant, Target
from drawdown.domain.instants import to_micros
from drawdown.domain.ledger import EntryKind, Posting

_NEVER = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Charge:
    account_id: str
    unit: str
    amount_units: int
    target: Target
    at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A grant that might pay, with what is left of it and how much its caps still allow.

    ``headroom_units`` is ``None`` when no per-period or per-invoice cap applies. ``pooled``
    marks a grant owned by an ancestor of the charging account.
    """

    grant: Grant
    remaining_units: int
    headroom_units: int | None = None
    pooled: bool = False


@dataclass(frozen=True, slots=True)
class Draw:
    grant_id: str
    owner_id: str
    amount_units: int
    position: int
    key: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Drawdown:
    charge: Charge
    policy: DrawdownPolicy
    draws: tuple[Draw, ...]
    shortfall_units: int

    @property
    def drawn_units(self) -> int:
        return sum(d.amount_units for d in self.draws)


def burn_key(policy: DrawdownPolicy) -> Callable[[Grant], tuple[Any, ...]]:
    """The one sort key for each policy."""
    if policy is DrawdownPolicy.FIFO:
        return lambda g: (to_micros(g.effective_at), g.created_seq, g.id)
    return lambda g: (
        g.priority,
        _NEVER if g.expires_at is None else to_micros(g.expires_at),
        0 if g.promotional else 1,
        g.scope.breadth,
        to_micros(g.effective_at),
        g.created_seq,
        g.id,
    )


def explain_key(grant: Grant, policy: DrawdownPolicy) -> dict[str, Any]:
    """The sort key in words a dispute can be settled with."""
    if policy is DrawdownPolicy.FIFO:
        return {
            "effective_at": grant.effective_at.isoformat(),
            "created_seq": grant.created_seq,
            "grant_id": grant.id,
        }
    return {
        "priority": grant.priority,
        "expires_at": None if grant.expires_at is None else grant.expires_at.isoformat(),
        "promotional": grant.promotional,
        "scope": grant.scope.describe(),
        "effective_at": grant.effective_at.isoformat(),
        "created_seq": grant.created_seq,
        "grant_id": grant.id,
    }


def eligible(candidate: Candidate, charge: Charge) -> bool:
    grant = candidate.grant
    return (
        grant.unit == charge.unit
        and candidate.remaining_units > 0
        and (candidate.headroom_units is None or candidate.headroom_units > 0)
        and grant.active_at(charge.at)
        and grant.scope.applies_to(charge.target)
    )


def draw(
    charge: Charge,
    candidates: Sequence[Candidate],
    policy: DrawdownPolicy = DrawdownPolicy.DEFAULT,
    pool_headroom_units: int | None = None,
) -> Drawdown:
    """Draw ``charge`` from the eligible candidates in the policy's order.

    ``pool_headroom_units`` caps the total drawn from pooled (ancestor) grants, the charging
    account's sub-budget; ``None`` means no cap.
    """
    return draw_in_order(charge, in_burn_order(candidates, policy), policy, pool_headroom_units)


def in_burn_order(candidates: Sequence[Candidate], policy: DrawdownPolicy) -> list[Candidate]:
    """``candidates`` sorted by the policy's burn key."""
    key = burn_key(policy)
    return sorted(candidates, key=lambda c: key(c.grant))


def draw_in_order(
    charge: Charge,
    ordered_candidates: Sequence[Candidate],
    policy: DrawdownPolicy = DrawdownPolicy.DEFAULT,
    pool_headroom_units: int | None = None,
) -> Drawdown:
    """:func:`draw` for candidates already :func:`in_burn_order` (drawing one invoice's lines
    from the same grants sorts them once, not once per line).

    Only the first ``GRANTS_PER_DRAWDOWN_MAX`` eligible grants in burn order are looked at, so
    a charge's work is bounded however many grants an account holds; what a charge needs
    beyond them is shortfall (a transaction carries far fewer draws than that anyway).
    """
    assert charge.amount_units > 0, "charges are positive"
    ordered = [c for c in ordered_candidates if eligible(c, charge)][: limits.GRANTS_PER_DRAWDOWN_MAX]
    need = charge.amount_units
    pool_left = pool_headroom_units
    draws: list[Draw] = []
    for position, candidate in enumerate(ordered, start=1):
        if need == 0:
            break
        take = min(need, candidate.remaining_units)
        if candidate.headroom_units is not None:
            take = min(take, candidate.headroom_units)
        if candidate.pooled and pool_left is not None:
            take = min(take, pool_left)
            pool_left -= take
        if take <= 0:
            continue
        grant = candidate.grant
        draws.append(Draw(grant.id, grant.account_id, take, position, explain_key(grant, policy)))
        need -= take
    result = Drawdown(charge, policy, tuple(draws), need)
    assert result.drawn_units + result.shortfall_units == charge.amount_units
    return result


def at_most(drawdown: Drawdown, draws_max: int) -> Drawdown:
    """Its first ``draws_max`` draws; what the later ones drew becomes shortfall (a transaction
    holds two postings per draw, and a bounded number of postings)."""
    assert draws_max > 0
    if len(drawdown.draws) <= draws_max:
        return drawdown
    dropped = sum(d.amount_units for d in drawdown.draws[draws_max:])
    return replace(drawdown, draws=drawdown.draws[:draws_max], shortfall_units=drawdown.shortfall_units + dropped)


def postings(drawdown: Drawdown, into: EntryKind = EntryKind.CONSUMED) -> tuple[Posting, ...]:
    """The legs that move each draw out of its grant and into the charging account's ``into``."""
    charge = drawdown.charge
    legs: list[Posting] = []
    for d in drawdown.draws:
        why = {"position": d.position, "policy": str(drawdown.policy), "key": d.key}
        legs.append(Posting(EntryKind.GRANT, d.owner_id, charge.unit, -d.amount_units, d.grant_id, d.owner_id))
        legs.append(Posting(into, charge.account_id, charge.unit, d.amount_units, d.grant_id, d.owner_id, why))
    return tuple(legs)
