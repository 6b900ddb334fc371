"""Finalized invoices and credit notes as stored: frozen documents plus the figures to query."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    finalized, and its explanation document is already canonical JSON text."""

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
