"""Holds (reservations): TigerBeetle's pending transfers, in our double-entry ledger.

``reserve`` draws credit through the normal drawdown and moves it from ``grant:<g>`` into
``hold:<account>``, leg by leg in draw order; what the grants do not cover, up to the
account's overdraft headroom, comes from ``overdraft:<account>`` as the last leg. Held
credit has left the grants, so every balance check counts it.

A hold resolves exactly once, by one transaction built here:

- **capture** ``c`` moves ``min(c, held)`` from ``hold:`` into ``consumed:``, taking the
  legs in draw order, and returns the rest;
- **release** returns everything; an **expiry** (TTL reached) is a release.

Returned credit goes back where it came from: to its grant, or to ``overdraft:`` (paying
the loan back; a grant issued while the hold is open settles only the overdraft that is
not held, so the returned part is always still owed) — unless the grant was voided or has
expired meanwhile, in which case it goes straight into ``voided:``/``expired:`` so it never
reappears as available.
Invariant: ``captured + released == held``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from drawdown.domain.drawdown import Drawdown, postings
from drawdown.domain.ledger import EntryKind, Posting


class HoldStatus(StrEnum):
    OPEN = "open"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation of credit for a feature, and how it resolved."""

    id: str
    account_id: str
    unit: str
    feature: str
    quantity: Decimal
    rate: Decimal
    amount_units: int  # held
    requested_units: int  # the cost asked for; more than held only in async and shadow modes
    status: HoldStatus
    created_at: datetime
    expires_at: datetime
    hold_tx_id: str
    resolution_tx_id: str | None = None
    captured_units: int = 0
    released_units: int = 0
    resolved_at: datetime | None = None
    overdraft_units: int = 0  # the part of amount_units lent by the overdraft (the last leg)

    def expired_at(self, now: datetime) -> bool:
        """An open hold is expired from its ``expires_at`` on (periods are half-open)."""
        return self.status is HoldStatus.OPEN and now >= self.expires_at


def hold_postings(drawdown: Drawdown, overdraft_units: int) -> tuple[Posting, ...]:
    """Grant legs in draw order into ``hold:``, then the overdraft leg, if any."""
    assert overdraft_units >= 0
    legs = postings(drawdown, into=EntryKind.HOLD)
    if overdraft_units == 0:
        return legs
    charge = drawdown.charge
    why = {"overdraft": True}
    return (
        *legs,
        Posting(EntryKind.OVERDRAFT, charge.account_id, charge.unit, -overdraft_units, None, charge.account_id),
        Posting(EntryKind.HOLD, charge.account_id, charge.unit, overdraft_units, None, charge.account_id, why),
    )


def held_legs(hold_tx_postings: Sequence[Posting]) -> list[Posting]:
    """The legs into ``hold:`` of a hold transaction, in draw order."""
    return [p for p in hold_tx_postings if p.kind is EntryKind.HOLD and p.amount > 0]


def resolution_postings(
    legs: Sequence[Posting], capture_units: int, return_into: Callable[[Posting], EntryKind]
) -> tuple[Posting, ...]:
    """Capture ``capture_units`` (at most what is held) in leg order and return the rest.

    ``return_into(leg)`` says where a leg's returned credit goes: ``GRANT``, ``VOIDED`` or
    ``EXPIRED`` for a grant leg, ``OVERDRAFT`` for the overdraft leg.
    """
    held = sum(leg.amount for leg in legs)
    assert 0 <= capture_units <= held
    left = capture_units
    out: list[Posting] = []
    for leg in legs:
        take = min(left, leg.amount)
        left -= take
        rest = leg.amount - take
        if take:
            out.append(Posting(EntryKind.HOLD, leg.account_id, leg.unit, -take, leg.grant_id, leg.owner_id))
            out.append(
                Posting(EntryKind.CONSUMED, leg.account_id, leg.unit, take, leg.grant_id, leg.owner_id, leg.detail)
            )
        if rest:
            into = return_into(leg)
            assert (into is EntryKind.OVERDRAFT) == (leg.grant_id is None), "overdraft legs return to overdraft"
            owner = leg.account_id if leg.owner_id is None else leg.owner_id
            out.append(Posting(EntryKind.HOLD, leg.account_id, leg.unit, -rest, leg.grant_id, leg.owner_id))
            out.append(Posting(into, owner, leg.unit, rest, leg.grant_id, leg.owner_id))
    captured = sum(p.amount for p in out if p.kind is EntryKind.CONSUMED)
    assert captured == capture_units
    assert sum(p.amount for p in out if p.kind is EntryKind.HOLD) == -held
    return tuple(out)
