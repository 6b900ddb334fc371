"""Invoices: preview, finalize, void, re-issue, credit notes and explanations (I1–I3).

Each use case loads what the pure engine needs (price-book versions, the contract in
force, usage from the ``UsageSource``, grants with their cap headroom), calls
:func:`drawdown.domain.invoices.rate` and :func:`~drawdown.domain.invoices.apply_credits`,
and, when finalizing, posts the credits drawn and saves the frozen document, all in one
write unit of work. A preview writes nothing. A re-issue finalizes a voided invoice's
period again, as the next revision: today's terms and credits, the voided invoice's usage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from drawdown.domain.accounts import Account
from drawdown.domain.billed_usage import UsageTotal
from drawdown.domain.commitments import TermInvoice
from drawdown.domain.contracts import Availability, Contract, contract_in_force
from drawdown.domain.drawdown import Candidate
from drawdown.domain.errors import (
    CreditNoteTooLarge,
    InvalidPeriod,
    InvoiceAlreadyVoided,
    InvoiceNotFound,
    InvoiceOutOfOrder,
    UnitMismatch,
)
from drawdown.domain.explanations import document, money, replacing, text
from drawdown.domain.instants import Period, month_period, to_micros, zone
from drawdown.domain.invoice_postings import credit_postings, reinstatement_postings
from drawdown.domain.invoice_records import (
    CreditNote,
    FrozenInvoice,
    InvoiceStatus,
    StoredInvoice,
    reissue_revision,
)
from drawdown.domain.invoices import Invoice, Outcome, RatingInput, apply_credits, rate
from drawdown.domain.ledger import EntryKind, Posting, TransactionDraft, TxKind, canonical_json, fingerprint
from drawdown.domain.lifecycle import removal_postings
from drawdown.domain.money import Money, Unit, parse_amount
from drawdown.domain.pricing import PriceBook
from drawdown.services.charges import candidates_for
from drawdown.services.commitments import check_no_term_closed_over, check_not_counted_in_term, term_invoices
from drawdown.services.common import account_of, actor_and_reason, unit_of
from drawdown.services.grants import GrantRequest, issue_within
from drawdown.services.late_usage import late_usage
from drawdown.services.ports import Deps, UnitOfWork
from drawdown.services.pricing import book_for


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
    revision: int = 1  # of the period's invoices: 1, then one more per re-issue

    def explain(self) -> str:
        return text(self.document)

    def canonical_json(self) -> str:
        return canonical_json(self.document)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What rating one account's month needs; loaded for one account or a page of them."""

    contracts: list[Contract]
    usage: list[UsageTotal]
    availability: list[Availability]
    previous: StoredInvoice | None  # the account's latest invoice (a re-issue: the latest before its period)
    candidates: list[Candidate]
    pool_headroom_units: int | None
    term_invoices: list[TermInvoice]  # the invoices of a term this month closes (see term_invoices)
    usage_cutoff: datetime  # usage recorded up to this instant is billed (finalize: now)


@dataclass(frozen=True, slots=True)
class Rated:
    payer: Account
    unit: Unit
    billing: Period
    invoice: Invoice
    reasons: dict[str, dict[str, str]]
    usage_cutoff: datetime


class Reissue(NamedTuple):
    """What a re-issue adds to the invoice it seals: the voided invoice it replaces and why."""

    voided_id: str
    revision: int
    reason: str


def preview_invoice(deps: Deps, account: str, period: str) -> InvoiceView:
    """The upcoming (or any) invoice for a month, as it would be now. Writes nothing."""
    now = deps.clock.now()
    with deps.uow(write=False) as uow:
        payer = account_of(uow, account)
        billing = month_period(period, zone(payer.time_zone))
        rated = compute(uow, payer, unit_of(uow, payer.currency), billing, now, load_one(uow, payer, billing, now), {})
    due = Money(rated.invoice.amount_due_units, rated.unit)
    return InvoiceView(None, "preview", payer.id, billing, due, due, document(rated.invoice, rated.reasons))


def finalize_invoice(deps: Deps, account: str, period: str, *, actor: str) -> InvoiceView:
    """Rate, apply credits, post the draws and freeze the invoice for a month that has ended.

    Finalizing a month that already has an invoice returns that invoice (``replayed``), so
    retries and invoice runs never create a second one.
    """
    who, _ = actor_and_reason(actor, None, reason_required=False)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        payer = account_of(uow, account)
        billing = month_period(period, zone(payer.time_zone))
        unit = unit_of(uow, payer.currency)
        loaded = load_one(uow, payer, billing, now)
        previous = loaded.previous
        existing = previous if previous is not None and previous.period.start == billing.start else None
        if previous is not None and previous.period.start > billing.start:
            existing = uow.invoices.for_period(payer.id, billing.start)
        if existing is not None:
            return _view(existing, unit, replayed=True)
        check_can_finalize(payer, billing, now, loaded.previous)
        invoice_id = freeze(deps, uow, [seal(compute(uow, payer, unit, billing, now, loaded, {}))], who, now)[0]
        stored = _stored(uow, invoice_id)
    return _view(stored, unit)


def check_can_finalize(payer: Account, billing: Period, now: datetime, previous: StoredInvoice | None) -> None:
    if now < billing.end:
        raise InvalidPeriod(
            f"the period ends at {billing.end.isoformat()}; preview it until then, finalize it afterwards",
            field="period",
        )
    if previous is not None and previous.period.start > billing.start:
        raise InvoiceOutOfOrder(
            f"{payer.id} already has an invoice for the later period starting {previous.period.start.isoformat()}; "
            "invoices are finalized in period order",
            field="period",
            invoice_id=previous.id,
        )
    if previous is not None and previous.period.end < billing.start:
        missing = f"{previous.period.end.astimezone(zone(payer.time_zone)):%Y-%m}"
        raise InvoiceOutOfOrder(
            f"{payer.id} has no invoice for {missing} yet; invoices are finalized in period order, without a gap "
            f"(finalizing a later month would leave {missing}'s usage recorded before the last cutoff unbilled)",
            field="period",
            invoice_id=previous.id,
        )


class Sealed(NamedTuple):
    """A rated invoice in the form it is frozen: the ledger legs of the credits it drew, its
    totals, what it settles after finalization, and its explanation as stored (canonical JSON).

    Pure to make (:func:`seal`), and small, so an invoice run can seal pages in worker
    processes and leave only the writes to the process that holds the writer lock.
    """

    account_id: str
    billing: Period
    unit: Unit
    legs: tuple[Posting, ...]
    subtotal_units: int
    credits_units: int
    amount_due_units: int
    commit_spend_units: int
    outcomes: tuple[Outcome, ...]
    document_json: str
    usage_cutoff: datetime
    revision: int = 1


def seal(rated: Rated, reissue: Reissue | None = None) -> Sealed:
    invoice = rated.invoice
    doc = document(invoice, rated.reasons)
    if reissue is not None:
        doc = replacing(doc, reissue.voided_id, reissue.revision, reissue.reason)
    return Sealed(
        rated.payer.id, rated.billing, rated.unit, credit_postings(invoice), invoice.total("amount_units"),
        invoice.total("credited_units"), invoice.amount_due_units, invoice.commit_spend_units, invoice.outcomes,
        document_json(doc), rated.usage_cutoff, 1 if reissue is None else reissue.revision,
    )  # fmt: skip


_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def document_json(doc: dict[str, Any]) -> str:
    """``canonical_json(doc)`` for an explanation document, several times faster.

    msgspec with sorted keys writes the same text as ``canonical_json`` when nothing needs
    escaping: every character printable ASCII, no backslash (none of ``"``, ``\\`` or a
    control character was in a string; DEL and non-ASCII, which ``canonical_json`` escapes,
    are excluded too). Anything else takes ``canonical_json`` itself. A document holds no
    floats (amounts and quantities are strings), the one other place the two differ.
    """
    try:
        text = _encode_sorted(doc)
    except (msgspec.EncodeError, TypeError, ValueError):  # a lone surrogate, say: canonical_json escapes it
        return canonical_json(doc)
    if text.isascii() and b"\\" not in text and b"\x7f" not in text:
        return text.decode("ascii")
    return canonical_json(doc)


def freeze(deps: Deps, uow: UnitOfWork, items: list[Sealed], who: str, now: datetime) -> list[str]:
    """Post the credits every invoice drew (one batch), settle rebates and SLA credits, and
    store each frozen invoice; return the new invoices' ids, in the order of ``items``."""
    ids = [deps.ids.new("inv") for _ in items]
    drafts = []
    for invoice_id, s in zip(ids, items, strict=True):
        if s.legs:
            draft = TransactionDraft(
                kind=TxKind.INVOICE, effective_at=now, postings=s.legs, actor=who, reason=f"invoice {invoice_id}",
                idempotency_key=_credits_key(s.account_id, s.billing, s.revision),
                fingerprint=fingerprint({"invoice": invoice_id}),
                links={"invoice_id": invoice_id, "account_id": s.account_id},
                data={"period_start": s.billing.start.isoformat(), "credits_units": s.credits_units},
            )  # fmt: skip
            drafts.append((draft, deps.ids.new("tx")))
    uow.ledger.post_many(drafts, now)
    rows, notes = [], []
    for invoice_id, s in zip(ids, items, strict=True):
        text = s.document_json
        if s.outcomes:
            doc = json.loads(text)
            notes += _settle_outcomes(deps, uow, s, invoice_id, doc, who, now)
            text = document_json(doc)
        rows.append(FrozenInvoice(
            invoice_id, s.account_id, s.billing, s.unit.code, s.subtotal_units, s.credits_units,
            s.amount_due_units, s.commit_spend_units, now, text, s.usage_cutoff, s.revision,
        ))  # fmt: skip
    uow.invoices.add_frozen(rows)
    for note in notes:
        uow.invoices.add_credit_note(note)
    return ids


def _credits_key(account_id: str, billing: Period, revision: int) -> str:
    """The idempotency key of an invoice's credits: revision 1 keeps the key it always had."""
    key = f"invoice:{account_id}:{to_micros(billing.start)}"
    return key if revision == 1 else f"{key}:r{revision}"


def load_one(
    uow: UnitOfWork, payer: Account, billing: Period, now: datetime, reissuing: StoredInvoice | None = None
) -> Loaded:
    """What rating the month needs now; when ``reissuing`` a voided invoice, the usage it
    billed (recorded up to its cutoff, late usage since the invoice before it) instead."""
    candidates, pool = candidates_for(uow, payer, payer.currency, now)
    contracts = uow.contracts.versions(payer.id)
    if reissuing is None:
        cutoff, previous = now, uow.invoices.latest(payer.id)
    else:
        cutoff, previous = reissuing.usage_cutoff, uow.invoices.latest(payer.id, before=billing.start)
    return Loaded(
        contracts,
        uow.usage.totals(payer.id, billing, recorded_after=None, recorded_until=cutoff),
        uow.availability.records(payer.id, billing),
        previous,
        candidates,
        pool,
        term_invoices(uow, [payer], billing, {payer.id: contracts})[payer.id],
        cutoff,
    )


def compute(
    uow: UnitOfWork,
    payer: Account,
    unit: Unit,
    billing: Period,
    now: datetime,
    loaded: Loaded,
    books: dict[str, list[PriceBook]],
) -> Rated:
    """Rate and apply credits (pure, given ``loaded``); ``books`` caches price-book versions."""
    contract = contract_in_force(loaded.contracts, billing.start)
    book = book_for(uow, contract, billing.start, books)
    if book.unit != unit.code:
        raise UnitMismatch(f"price book {book.label} is in {book.unit}; {payer.id} bills in {unit.code}", field="unit")
    rating = RatingInput(
        payer.id, unit, billing, payer.time_zone, now, book, contract, tuple(loaded.usage),
        late_usage(uow, payer, billing, loaded.usage_cutoff, loaded.previous, loaded.contracts, books),
        tuple(loaded.availability),
        tuple(loaded.term_invoices),
    )  # fmt: skip
    invoice = apply_credits(rate(rating), loaded.candidates, payer.drawdown_policy, loaded.pool_headroom_units)
    grants = {c.grant.id: c.grant for c in loaded.candidates}
    reasons = {
        d.grant_id: {"reason_code": grants[d.grant_id].reason_code, "source": str(grants[d.grant_id].source),
                     "scope": grants[d.grant_id].scope.describe()}
        for line in invoice.lines for d in line.credits
    }  # fmt: skip
    return Rated(payer, unit, billing, invoice, reasons, loaded.usage_cutoff)


def _settle_outcomes(
    deps: Deps, uow: UnitOfWork, invoice: Sealed, invoice_id: str, doc: dict[str, Any], who: str, now: datetime
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
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        stored = _stored(uow, invoice_id)
        if stored.status is InvoiceStatus.VOIDED:
            raise InvoiceAlreadyVoided(f"invoice {invoice_id} was already voided", field="invoice_id")
        check_not_counted_in_term(uow, stored)
        unit = unit_of(uow, stored.currency)
        drafts = []
        original = uow.ledger.find_by_key(_credits_key(stored.account_id, stored.period, stored.revision))
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


def reissue_invoice(deps: Deps, invoice_id: str, *, reason: str, actor: str) -> InvoiceView:
    """Finalize a voided invoice's period again, as its next revision: the terms and credits
    of now, the usage the voided invoice billed (up to its cutoff; what came later stays late
    usage for the next invoice). Re-issuing it again returns its replacement (``replayed``)."""
    who, why = actor_and_reason(actor, reason, reason_required=True)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
        voided = _stored(uow, invoice_id)
        latest = uow.invoices.for_period(voided.account_id, voided.period.start)
        assert latest is not None, "the voided invoice's own period has an invoice"
        revision = reissue_revision(voided, latest)
        unit = unit_of(uow, voided.currency)
        if revision is None:
            return _view(latest, unit, replayed=True)
        check_no_term_closed_over(uow, voided)
        payer = account_of(uow, voided.account_id)
        loaded = load_one(uow, payer, voided.period, now, reissuing=voided)
        rated = compute(uow, payer, unit, voided.period, now, loaded, {})
        new_id = freeze(deps, uow, [seal(rated, Reissue(voided.id, revision, why))], who, now)[0]
        stored = _stored(uow, new_id)
    return _view(stored, unit)


def issue_credit_note(deps: Deps, invoice_id: str, amount: object, *, reason: str, actor: str) -> CreditNote:
    """Correct a finalized invoice by reducing what it still owes; the invoice is never edited."""
    _, why = actor_and_reason(actor, reason, reason_required=True)
    with deps.uow(write=True) as uow:
        now = deps.clock.now()  # under the writer lock, so instants follow the commit order
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
        Money(stored.outstanding_units, unit), stored.document, stored.credit_notes, replayed, stored.revision,
    )  # fmt: skip
