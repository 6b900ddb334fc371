"""The postings that issue, expire and void a grant.

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
