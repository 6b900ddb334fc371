"""Term commitments in the invoice use cases: which stored invoices a term counts, and the
guards that keep a frozen term true-up from being left short by a later void, or from
charging again, as shortfall, the spend of a month re-issued after it.

The rules themselves are pure, in :mod:`drawdown.domain.commitments`.
"""

from __future__ import annotations

from datetime import datetime

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.commitments import TermInvoice, closing_term
from drawdown.domain.contracts import Contract, contract_in_force
from drawdown.domain.errors import InvoiceCountedInTerm
from drawdown.domain.instants import Period, zone
from drawdown.domain.invoice_records import StoredInvoice
from drawdown.services.ports import UnitOfWork


def term_invoices(
    uow: UnitOfWork, payers: list[Account], billing: Period, contracts: dict[str, list[Contract]]
) -> dict[str, list[TermInvoice]]:
    """For each payer whose contract in force closes a term commitment with ``billing``, the
    stored invoices inside that term (one query per distinct term); empty for the others."""
    found: dict[str, list[TermInvoice]] = {p.id: [] for p in payers}
    closing: dict[Period, list[str]] = {}
    for p in payers:
        term = closing_term(contract_in_force(contracts[p.id], billing.start), billing, zone(p.time_zone))
        if term is not None:
            closing.setdefault(term, []).append(p.id)
    for term, ids in closing.items():
        found.update(uow.invoices.in_term(ids, term))
    return found


def check_not_counted_in_term(uow: UnitOfWork, stored: StoredInvoice) -> None:
    """A term true-up is frozen with the spend it counted; voiding one of those invoices
    afterwards would leave it short, so the invoice that closed the term is voided first."""
    for closer, doc in uow.invoices.documents_after(stored.account_id, stored.period.start, limits.TERM_MONTHS_MAX):
        term = doc.get("term_commit") or {}
        if any(i.get("invoice") == stored.id for i in term.get("invoices", [])):
            raise InvoiceCountedInTerm(
                f"invoice {closer} counted invoice {stored.id} toward term commitment {term['rule']} "
                f"({term['term']['start']} to {term['term']['end']}); void {closer} first",
                field="invoice_id", counted_by=closer, rule=term["rule"],
            )  # fmt: skip


def check_no_term_closed_over(uow: UnitOfWork, voided: StoredInvoice) -> None:
    """A term true-up is frozen with the spend it counted, and a voided month counted none: its
    shortfall already charges that month's spend. Re-issuing the month while that true-up
    stands would bill the spend twice, so the invoice that closed the term is voided first."""
    for closer, doc in uow.invoices.documents_after(voided.account_id, voided.period.start, limits.TERM_MONTHS_MAX):
        term = doc.get("term_commit") or {}
        span = term.get("term") or {}
        if "start_at" not in span:
            continue
        start, end = datetime.fromisoformat(span["start_at"]), datetime.fromisoformat(span["end_at"])
        if start <= voided.period.start < end:
            raise InvoiceCountedInTerm(
                f"invoice {closer} closed term commitment {term['rule']} ({span['start']} to {span['end']}) "
                f"without the voided invoice {voided.id}; void {closer} first, then re-issue",
                field="invoice_id", counted_by=closer, rule=term["rule"],
            )  # fmt: skip
