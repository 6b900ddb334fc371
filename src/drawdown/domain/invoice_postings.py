"""The ledger legs of invoice credits: drawing them at finalization, reinstating them on void.

Finalizing moves each draw out of ``grant:<id>`` into ``consumed:<account>``, exactly like a
charge, with the line and the drawdown position in the leg's detail. Voiding posts the exact
reverse, linked to the original transaction; credit whose grant has since expired or been
voided is reinstated and removed again in the same transaction (it lapses, as it would
have), so a void never revives credit past its grant's life.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drawdown.domain.invoices import Invoice
from drawdown.domain.ledger import EntryKind, Posting


def credit_postings(invoice: Invoice) -> tuple[Posting, ...]:
    legs: list[Posting] = []
    unit = invoice.unit.code
    policy = str(invoice.policy)
    for number, line in enumerate(invoice.lines, start=1):
        for d in line.credits:
            why = {"position": d.position, "policy": policy, "key": d.key, "invoice_line": number}
            legs.append(Posting(EntryKind.GRANT, d.owner_id, unit, -d.amount_units, d.grant_id, d.owner_id))
            legs.append(
                Posting(EntryKind.CONSUMED, invoice.account_id, unit, d.amount_units, d.grant_id, d.owner_id, why)
            )
    return tuple(legs)


def reinstatement_postings(original: Sequence[Posting], lapsed: Mapping[str, EntryKind]) -> tuple[Posting, ...]:
    """Reverse every consumed leg; ``lapsed`` maps a grant that ended to EXPIRED or VOIDED."""
    legs: list[Posting] = []
    for p in original:
        if p.kind is not EntryKind.CONSUMED:
            continue
        assert p.grant_id is not None
        assert p.owner_id is not None
        legs.append(Posting(EntryKind.CONSUMED, p.account_id, p.unit, -p.amount, p.grant_id, p.owner_id))
        legs.append(Posting(EntryKind.GRANT, p.owner_id, p.unit, p.amount, p.grant_id, p.owner_id))
        ended = lapsed.get(p.grant_id)
        if ended is not None:
            assert ended in (EntryKind.EXPIRED, EntryKind.VOIDED)
            legs.append(Posting(EntryKind.GRANT, p.owner_id, p.unit, -p.amount, p.grant_id, p.owner_id))
            legs.append(Posting(ended, p.owner_id, p.unit, p.amount, p.grant_id, p.owner_id))
    return tuple(legs)
