"""The postings that issue, expire and void a grant.

A grant issued to an account that owes overdraft settles it first: part of the new grant
moves from ``grant:<id>`` into ``overdraft:<account>`` in the issuing transaction.

Expiry and void both move a grant's whole remainder out of ``grant:<id>``: into
``expired:<owner>`` (breakage) or ``voided:<owner>``. What was consumed stays consumed.
"""

from __future__ import annotations

from drawdown.domain.balances import GrantState
from drawdown.domain.grants import Grant
from drawdown.domain.ledger import EntryKind, Posting


def issue_postings(grant: Grant) -> tuple[Posting, ...]:
    return (
        Posting(EntryKind.ISSUED, grant.account_id, grant.unit, -grant.amount_units, grant.id, grant.account_id),
        Posting(EntryKind.GRANT, grant.account_id, grant.unit, grant.amount_units, grant.id, grant.account_id),
    )


def expiry_key(grant_id: str) -> str:
    """The idempotency key of a grant's expiry: one expiry per grant, however often sweeps run."""
    return f"expiry:{grant_id}"


def removal_postings(state: GrantState, into: EntryKind) -> tuple[Posting, ...]:
    """Move what is left of a grant into ``expired`` or ``voided``; nothing if nothing is left."""
    assert into in (EntryKind.EXPIRED, EntryKind.VOIDED)
    grant, left = state.grant, state.remaining_units
    if left == 0:
        return ()
    return (
        Posting(EntryKind.GRANT, grant.account_id, grant.unit, -left, grant.id, grant.account_id),
        Posting(into, grant.account_id, grant.unit, left, grant.id, grant.account_id),
    )


def settlement_postings(grant: Grant, owed_units: int) -> tuple[Posting, ...]:
    """Pay back what the account owes its overdraft from a new grant, as far as it goes."""
    paid = min(owed_units, grant.amount_units)
    if paid <= 0:
        return ()
    return (
        Posting(EntryKind.GRANT, grant.account_id, grant.unit, -paid, grant.id, grant.account_id),
        Posting(EntryKind.OVERDRAFT, grant.account_id, grant.unit, paid, grant.id, grant.account_id),
    )
