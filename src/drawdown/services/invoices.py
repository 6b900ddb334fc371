"""Invoices: preview, finalize, void, credit notes and explanations (I1–I3).

Each use case loads what the pure engine needs (price-book versions, the contract in
force, usage from the ``UsageSource``, grants with their cap headroom), calls
:func:`drawdown.domain.invoices.rate` and :func:`~drawdown.domain.invoices.apply_credits`,
and, when finalizing, posts the credits drawn and saves the frozen document, all in one
write unit of work. A preview writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import Account
from drawdown.domain.billed_usage import UsageEvent, summarize
from drawdown.domain.contracts import Contract, contract_in_force
from drawdown.domain.errors import (
    CreditNoteTooLarge,
    InvalidPeriod,
    InvoiceAlreadyVoided,
    InvoiceNotFound,
    InvoiceOutOfOrder,
    UnitMismatch,
)
from drawdown.domain.explanations import document, money, text
from drawdown.domain.instants import Period, calendar_period, month_period, to_micros, zone
from drawdown.domain.invoice_postings import credit_postings, reinstatement_postings
from drawdown.domain.invoice_records import CreditNote, InvoiceStatus, StoredInvoice
from drawdown.domain.invoices import Invoice, LateUsage, RatingInput, apply_credits, rate
from drawdown.domain.ledger import EntryKind, TransactionDraft, TxKind, canonical_json, fingerprint
from drawdown.domain.lifecycle import removal_postings
from drawdown.domain.money import Money, Unit, parse_amount
from drawdown.domain.pricing import PriceBook, book_in_force
from drawdown.services.charges import candidates_for
from drawdown.services.common import account_of, actor_and_reason, unit_of
from drawdown.services.grants import GrantRequest, issue_within
from drawdown.services.ports import Deps, UnitOfWork


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """An invoice (a preview, or a finalized or voided one) with its explanation document."""

    id: str | None
    status: str  # "preview" | "finalized" | "voided"
    account_id: str
    period: Period
    amount_due: Money
    outstanding: Money
    document: dict[str, Any]
    credit_notes: tuple[CreditNote, ...] = ()
    replayed: bool = False

    def explain(self) -> str:
        return text(self.document)

    def canonical_json(self) -> str:
        return canonical_json(self.document)


def preview_invoice(deps: Deps, account: str, period: str) -> InvoiceView:
    """The upcoming (or any) invoice for a month, as it would be now. Writes nothing."""
    now = deps.clock.now()
    with deps.uow(write=False) as uow:
        payer = account_of(uow, account)
        billing = month_period(period, zone(payer.time_zone))
        unit = unit_of(uow, payer.currency)
        invoice, reasons = _compute(uow, payer, unit, billing, now)
    due = Money(invoice.amount_due_units, unit)
    return InvoiceView(None, "preview", payer.id, billing, due, due, document(invoice, reasons))


def finalize_invoice(deps: Deps, account: str, period: str, *, actor: str) -> InvoiceView:
    """Rate, apply credits, post the draws and freeze the invoice for a month that has ended.

    Finalizing a month that already has an invoice returns that invoice (``replayed``), so
    retries and invoice runs never create a second one.
    """
    who, _ = actor_and_reason(actor, None, reason_required=False)
    now = deps.clock.now()
    with deps.uow(write=True) as uow:
        payer = account_of(uow, account)
        billing = month_period(period, zone(payer.time_zone))
        unit = unit_of(uow, payer.currency)
        existing = uow.invoices.for_period(payer.id, billing.start)
        if existing is not None:
            return _view(existing, unit, replayed=True)
        _check_can_finalize(uow, payer, billing, now)
        invoice, reasons = _compute(uow, payer, unit, billing, now)
        invoice_id = deps.ids.new("inv")
        doc = document(invoice, reasons)
        legs = credit_postings(invoice)
        if legs:
            draft = TransactionDraft(
                kind=TxKind.INVOICE, effective_at=now, postings=legs, actor=who, reason=f"invoice {invoice_id}",
                idempotency_key=_credits_key(payer.id, billing), fingerprint=fingerprint({"invoice": invoice_id}),
                links={"invoice_id": invoice_id, "account_id": payer.id},
                data={"period_start": billing.start.isoformat(), "credits_units": invoice.total("credited_units")},
            )  # fmt: skip
            uow.ledger.post_many([(draft, deps.ids.new("tx"))], now)
        notes = _settle_outcomes(deps, uow, invoice, invoice_id, doc, who, now)
        stored = StoredInvoice(
            invoice_id, payer.id, billing, unit.code, InvoiceStatus.FINALIZED, invoice.total("amount_units"),
            invoice.total("credited_units"), invoice.amount_due_units, now, doc, now, None, tuple(notes),
        )  # fmt: skip
        uow.invoices.add(stored)
        for note in notes:
            uow.invoices.add_credit_note(note)
    return _view(stored, unit)


def _check_can_finalize(uow: UnitOfWork, payer: Account, billing: Period, now: datetime) -> None:
    if now < billing.end:
        raise InvalidPeriod(
            f"the period ends at {billing.end.isoformat()}; preview it until then, finalize it afterwards",
            field="period",
        )
    latest = uow.invoices.latest(payer.id)
    if latest is not None and latest.period.start > billing.start:
        raise InvoiceOutOfOrder(
            f"{payer.id} already has an invoice for the later period starting {latest.period.start.isoformat()}; "
            "invoices are finalized in period order",
            field="period",
            invoice_id=latest.id,
        )


def _credits_key(account_id: str, billing: Period) -> str:
    return f"invoice:{account_id}:{to_micros(billing.start)}"


def _compute(
    uow: UnitOfWork, payer: Account, unit: Unit, billing: Period, now: datetime
) -> tuple[Invoice, dict[str, dict[str, str]]]:
    contracts = uow.contracts.versions(payer.id)
    contract = contract_in_force(contracts, billing.start)
    versions = uow.price_books.versions("default" if contract is None else contract.price_book)
    book = book_in_force(versions, billing.start, None if contract is None else contract.price_book_version)
    if book.unit != unit.code:
        raise UnitMismatch(f"price book {book.label} is in {book.unit}; {payer.id} bills in {unit.code}", field="unit")
    rating = RatingInput(
        payer.id, unit, billing, payer.time_zone, now, book, contract,
        tuple(uow.usage.totals(payer.id, billing, recorded_after=None, recorded_until=now)),
        _late_usage(uow, payer, billing, now, contracts, versions),
        tuple(uow.availability.records(payer.id, billing)),
    )  # fmt: skip
    candidates, pool = candidates_for(uow, payer, unit.code, now)
    invoice = apply_credits(rate(rating), candidates, payer.drawdown_policy, pool)
    grants = {c.grant.id: c.grant for c in candidates}
    reasons = {
        d.grant_id: {"reason_code": grants[d.grant_id].reason_code, "source": str(grants[d.grant_id].source),
                     "scope": grants[d.grant_id].scope.describe()}
        for line in invoice.lines for d in line.credits
    }  # fmt: skip
    return invoice, reasons


def _late_usage(
    uow: UnitOfWork,
    payer: Account,
    billing: Period,
    now: datetime,
    contracts: list[Contract],
    versions: list[PriceBook],
) -> tuple[LateUsage, ...]:
    """Usage of months already invoiced, recorded after the previous invoice was frozen."""
    previous = uow.invoices.latest(payer.id)
    if previous is None or previous.period.start >= billing.start:
        return ()
    events = uow.usage.late(
        payer.id, billing.start, recorded_after=previous.usage_cutoff, recorded_until=now,
        limit=limits.LATE_USAGE_ROWS_MAX,
    )  # fmt: skip
    by_period: dict[Period, list[UsageEvent]] = defaultdict(list)
    for event in events:
        by_period[calendar_period(event.occurred_at, "month", zone(payer.time_zone))].append(event)
    found = []
    for origin, group in sorted(by_period.items(), key=lambda item: item[0].start):
        billed = {
            t.product: t.quantity
            for t in uow.usage.totals(payer.id, origin, recorded_after=None, recorded_until=previous.usage_cutoff)
        }
        contract = contract_in_force(contracts, origin.start)
        book = book_in_force(versions, origin.start, None if contract is None else contract.price_book_version)
        for total in summarize(group):
            override = None if contract is None else contract.override(total.product)
            if override is not None and contract is not None:
                price, source = override.price, f"contract:{contract.label}:{override.rule}"
            elif (listed := book.price(total.product)) is not None:
                price, source = listed, f"price_book:{book.label}"
            else:
                continue
            found.append(LateUsage(origin.start, total, billed.get(total.product, Decimal(0)), price, source))
    return tuple(found)


def _settle_outcomes(
    deps: Deps, uow: UnitOfWork, invoice: Invoice, invoice_id: str, doc: dict[str, Any], who: str, now: datetime
) -> list[CreditNote]:
    """Pay rebates and SLA credits: grants for later invoices, or credit notes on this one
    (capped at what it still owes; the rest becomes a grant)."""
    notes: list[CreditNote] = []
    owed = invoice.amount_due_units
    for entry, outcome in zip(doc["after_finalization"], invoice.outcomes, strict=True):
        as_grant = outcome.amount_units
        if outcome.settlement == "credit_note":
            noted = min(owed, outcome.amount_units)
            if noted > 0:
                notes.append(CreditNote(deps.ids.new("cn"), invoice_id, noted, f"{outcome.kind} {outcome.rule}",
                                        outcome.rule, now))  # fmt: skip
                entry["credit_note"] = money(noted, invoice.unit)
                owed -= noted
            as_grant -= noted
        if as_grant > 0:
            request = GrantRequest(
                account=invoice.account_id, amount=str(Money(as_grant, invoice.unit)), unit=invoice.unit.code,
                source="sla" if outcome.kind == "sla" else "rebate",
                scope=f"products:{','.join(outcome.products)}" if outcome.products else None,
                reason_code=f"{outcome.kind}:{outcome.rule}"[:64],
                external_ref=",".join(outcome.incident_refs)[:255] or None,
                metadata={"invoice_id": invoice_id, "contract_version": str(outcome.contract_version)},
            )  # fmt: skip
            key = f"invoice:{invoice_id}:{outcome.kind}:{outcome.rule}:{','.join(outcome.products)}"
            entry["grant"] = issue_within(deps, uow, request, actor=who, key=key[:255], now=now).id
    return notes


def void_invoice(deps: Deps, invoice_id: str, *, reason: str, actor: str) -> InvoiceView:
    """Void a finalized invoice: reinstate the credits it drew (a reversing transaction linked
    to the original) and void the unused rest of the rebate and SLA grants it issued."""
    who, why = actor_and_reason(actor, reason, reason_required=True)
    now = deps.clock.now()
    with deps.uow(write=True) as uow:
        stored = _stored(uow, invoice_id)
        if stored.status is InvoiceStatus.VOIDED:
            raise InvoiceAlreadyVoided(f"invoice {invoice_id} was already voided", field="invoice_id")
        unit = unit_of(uow, stored.currency)
        drafts = []
        original = uow.ledger.find_by_key(_credits_key(stored.account_id, stored.period))
        if original is not None:
            owners = sorted({p.owner_id for p in original.postings if p.owner_id is not None})
            states = {s.grant.id: s for s in uow.ledger.grant_states(owners, unit.code)}
            lapsed = {
                gid: EntryKind.VOIDED if s.voided else EntryKind.EXPIRED
                for gid, s in states.items()
                if s.voided or (s.grant.expires_at is not None and s.grant.expires_at <= now)
            }
            drafts.append(TransactionDraft(
                kind=TxKind.INVOICE_VOID, effective_at=now,
                postings=reinstatement_postings(original.postings, lapsed), actor=who, reason=why,
                idempotency_key=f"invoice_void:{stored.id}", fingerprint=fingerprint({"void_invoice": stored.id}),
                links={"invoice_id": stored.id, "reverses": original.id, "account_id": stored.account_id},
            ))  # fmt: skip
        issued = [e["grant"] for e in stored.document.get("after_finalization", []) if "grant" in e]
        for state in uow.ledger.grant_states([stored.account_id], unit.code):
            if state.grant.id in issued and not state.voided:
                drafts.append(TransactionDraft(
                    kind=TxKind.VOID, effective_at=now, postings=removal_postings(state, EntryKind.VOIDED),
                    actor=who, reason=why, idempotency_key=f"invoice_void:{stored.id}:{state.grant.id}",
                    fingerprint=fingerprint({"void_invoice": stored.id, "grant": state.grant.id}),
                    links={"grant_id": state.grant.id, "account_id": stored.account_id, "invoice_id": stored.id},
                ))  # fmt: skip
        uow.ledger.post_many([(d, deps.ids.new("tx")) for d in drafts], now)
        uow.invoices.mark_voided(stored.id, now)
        voided = _stored(uow, invoice_id)
    return _view(voided, unit)


def issue_credit_note(deps: Deps, invoice_id: str, amount: object, *, reason: str, actor: str) -> CreditNote:
    """Correct a finalized invoice by reducing what it still owes; the invoice is never edited."""
    _, why = actor_and_reason(actor, reason, reason_required=True)
    now = deps.clock.now()
    with deps.uow(write=True) as uow:
        stored = _stored(uow, invoice_id)
        unit = unit_of(uow, stored.currency)
        units = parse_amount(amount, unit)
        if units > stored.outstanding_units:
            raise CreditNoteTooLarge(
                f"invoice {invoice_id} still owes {money(stored.outstanding_units, unit)} {unit.code}; "
                f"a credit note of {amount} would take it below zero",
                field="amount",
                outstanding=money(stored.outstanding_units, unit),
            )
        note = CreditNote(deps.ids.new("cn"), stored.id, units, why, None, now)
        uow.invoices.add_credit_note(note)
    return note


def get_invoice(deps: Deps, invoice_id: str) -> InvoiceView:
    with deps.uow(write=False) as uow:
        stored = _stored(uow, invoice_id)
        return _view(stored, unit_of(uow, stored.currency))


def _stored(uow: UnitOfWork, invoice_id: str) -> StoredInvoice:
    stored = uow.invoices.get(invoice_id) if isinstance(invoice_id, str) else None
    if stored is None:
        raise InvoiceNotFound(f"no invoice has the id {str(invoice_id)[:80]!r}", field="invoice_id")
    return stored


def _view(stored: StoredInvoice, unit: Unit, *, replayed: bool = False) -> InvoiceView:
    return InvoiceView(
        stored.id, str(stored.status), stored.account_id, stored.period, Money(stored.amount_due_units, unit),
        Money(stored.outstanding_units, unit), stored.document, stored.credit_notes, replayed,
    )  # fmt: skip
