"""Pricing and invoicing values to response bodies: amounts as decimal strings."""

from __future__ import annotations

from drawdown.api import schemas_invoicing as i
from drawdown.domain.contracts import Contract
from drawdown.domain.invoice_records import CreditNote
from drawdown.domain.money import Unit, format_units
from drawdown.domain.pricing import PriceBook
from drawdown.domain.terms import contract_data, prices_data
from drawdown.services.invoices import InvoiceView


def price_book(b: PriceBook) -> i.PriceBookOut:
    return i.PriceBookOut(id=b.id, version=b.version, unit=b.unit, effective_at=b.effective_at.isoformat(),
                          prices=prices_data(b.prices))  # fmt: skip


def contract(c: Contract) -> i.ContractOut:
    return i.ContractOut(account=c.account_id, version=c.version, effective_at=c.effective_at.isoformat(),
                         terms=contract_data(c))  # fmt: skip


def credit_note(n: CreditNote, unit: Unit) -> i.CreditNoteOut:
    return i.CreditNoteOut(id=n.id, invoice_id=n.invoice_id, amount=format_units(n.amount_units, unit),
                           reason=n.reason, rule=n.rule, created_at=n.created_at.isoformat())  # fmt: skip


def invoice(v: InvoiceView, unit: Unit) -> i.InvoiceOut:
    notes = [credit_note(n, unit) for n in v.credit_notes]
    return i.InvoiceOut(
        id=v.id, status=v.status, revision=v.revision, account=v.account_id, period_start=v.period.start.isoformat(),
        period_end=v.period.end.isoformat(), currency=v.amount_due.unit.code, amount_due=str(v.amount_due),
        outstanding=str(v.outstanding), document=v.document, credit_notes=notes,
    )  # fmt: skip
