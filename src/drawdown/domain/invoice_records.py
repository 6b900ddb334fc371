"""Finalized invoices and credit notes as stored: frozen documents plus the figures to query.

A period's invoices are numbered by revision: the first is 1, and each re-issue of a voided
invoice is the next number, so the latest revision is "the invoice of the period". Every
revision of a period keeps the first one's usage cutoff: a re-issue bills exactly the usage
the voided invoice billed, and later usage stays late usage for the next invoice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from drawdown.domain.errors import InvoiceNotVoided, InvoiceSuperseded
from drawdown.domain.instants import Period


class InvoiceStatus(StrEnum):
    FINALIZED = "finalized"
    VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class CreditNote:
    """A correction to a finalized invoice: reduces what is owed, never edits the invoice."""

    id: str
    invoice_id: str
    amount_units: int
    reason: str
    rule: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FrozenInvoice:
    """A newly finalized invoice as it is stored: its usage cutoff is the instant it was
    rated up to (when it was finalized, or the voided revision's cutoff for a re-issue), and
    its explanation document is already canonical JSON text."""

    id: str
    account_id: str
    period: Period
    currency: str
    subtotal_units: int
    credits_units: int
    amount_due_units: int
    commit_spend_units: int
    finalized_at: datetime
    document_json: str
    usage_cutoff: datetime
    revision: int = 1


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    id: str
    account_id: str
    period: Period
    currency: str
    status: InvoiceStatus
    subtotal_units: int
    credits_units: int
    amount_due_units: int
    commit_spend_units: int  # spend that counts toward commitments (after discounts, before credits)
    usage_cutoff: datetime  # usage recorded up to this instant is on this invoice
    document_json: str  # the frozen explanation, as stored (canonical JSON)
    finalized_at: datetime
    voided_at: datetime | None = None
    credit_notes: tuple[CreditNote, ...] = ()
    revision: int = 1  # 1, then one more per re-issue of the period

    @property
    def document(self) -> dict[str, Any]:
        """The explanation document, decoded when asked for: an invoice run reads every
        account's latest invoice for its period and cutoff, never its document."""
        found: dict[str, Any] = json.loads(self.document_json)
        return found

    @property
    def credited_by_notes_units(self) -> int:
        return sum(n.amount_units for n in self.credit_notes)

    @property
    def outstanding_units(self) -> int:
        """What is still owed after credit notes; zero once voided."""
        if self.status is InvoiceStatus.VOIDED:
            return 0
        return self.amount_due_units - self.credited_by_notes_units


def reissue_revision(voided: StoredInvoice, latest: StoredInvoice) -> int | None:
    """The revision a re-issue of ``voided`` gets, given the ``latest`` revision of its period;
    None when ``latest`` is the invoice that already replaced it (a retry writes nothing).

    Only a voided invoice is re-issued, and only the latest of its period: once its
    replacement was itself re-issued, the period has moved on and the caller acts on it.
    """
    assert (latest.account_id, latest.period) == (voided.account_id, voided.period), "the same period"
    if voided.status is not InvoiceStatus.VOIDED:
        raise InvoiceNotVoided(
            f"invoice {voided.id} is {voided.status}; void it first, then re-issue its period",
            field="invoice_id", invoice_status=str(voided.status),
        )  # fmt: skip
    if latest.id == voided.id:
        return voided.revision + 1
    if latest.revision == voided.revision + 1:
        return None
    raise InvoiceSuperseded(
        f"invoice {voided.id} (revision {voided.revision}) was re-issued and its period is now at revision "
        f"{latest.revision} ({latest.id}); act on that one",
        field="invoice_id", latest=latest.id, revision=latest.revision,
    )  # fmt: skip
