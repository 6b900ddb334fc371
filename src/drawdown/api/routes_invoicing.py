"""The ``/v1`` pricing and invoicing endpoints (issue 5): price books, contracts, invoice
preview, finalize, read, explain, void, re-issue and credit notes. Same shape as ``routes``: parse,
check access, call the book, render; every write goes through ``edge.write``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from drawdown.api import render_invoicing as render
from drawdown.api import schemas_invoicing as i
from drawdown.api.access import fence_account, fence_invoice
from drawdown.api.edge import AccountId, Caller, IdemKey, book_of, units_of, write
from drawdown.book import Book
from drawdown.domain import limits
from drawdown.services.invoices import InvoiceView
from drawdown.services.requests import Rendered, WriteRequest

router = APIRouter(prefix="/v1")
InvoiceId = Annotated[str, Path(max_length=limits.ID_LENGTH_MAX, description="The invoice's id.")]
Month = Annotated[str, Query(max_length=7, description="The month, YYYY-MM.", examples=["2026-10"])]


# -- price books and contracts ---------------------------------------------------------------


@router.post("/price-books", name="publish_price_book", operation_id="publish_price_book", status_code=201,
             response_model=i.PriceBookOut, tags=["invoicing"])  # fmt: skip
def publish_price_book(request: Request, caller: Caller, body: i.PriceBookCreate, key: IdemKey = None) -> Response:
    """Publish the next version of a price book (accounts without a contract use ``default``)."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        prices = [p.model_dump(exclude_none=True) for p in body.prices]
        published = book.publish_price_book(body.id, body.unit, prices, effective_at=body.effective_at)
        return Rendered(201, render.price_book(published).model_dump_json())

    return write(request, caller, key, "publish_price_book", body.model_dump(mode="json"), action)


@router.post("/accounts/{account_id}/contracts", name="amend_contract", operation_id="amend_contract",
             status_code=201, response_model=i.ContractOut, tags=["invoicing"])  # fmt: skip
def amend_contract(request: Request, caller: Caller, account_id: AccountId, body: i.ContractCreate,
                   key: IdemKey = None) -> Response:  # fmt: skip
    """Add the next version of the account's contract (the first version creates it)."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        contract = book.amend_contract(account_id, body.terms(), effective_at=body.effective_at)
        return Rendered(201, render.contract(contract).model_dump_json(), account_id)

    return write(request, caller, key, "amend_contract", body.model_dump(mode="json"), action)


@router.get("/accounts/{account_id}/contracts", name="list_contracts", operation_id="list_contracts",
            response_model=i.ContractList, tags=["invoicing"])  # fmt: skip
def list_contracts(request: Request, caller: Caller, account_id: AccountId) -> i.ContractList:
    """Every version of the account's contract, oldest first; amendments keep history."""
    fence_account(caller, account_id)
    return i.ContractList(items=[render.contract(c) for c in book_of(request).contracts(account_id)])


# -- invoices --------------------------------------------------------------------------------


def _invoice(book: Book, view: InvoiceView) -> i.InvoiceOut:
    return render.invoice(view, units_of(book)(view.amount_due.unit.code))


@router.get("/accounts/{account_id}/invoices/preview", name="preview_invoice", operation_id="preview_invoice",
            response_model=i.InvoiceOut, tags=["invoicing"])  # fmt: skip
def preview_invoice(request: Request, caller: Caller, account_id: AccountId, period: Month) -> i.InvoiceOut:
    """The invoice for a month as it would be now; writes nothing."""
    fence_account(caller, account_id)
    book = book_of(request)
    return _invoice(book, book.preview_invoice(account_id, period))


@router.post("/accounts/{account_id}/invoices", name="finalize_invoice", operation_id="finalize_invoice",
             status_code=201, response_model=i.InvoiceOut, tags=["invoicing"])  # fmt: skip
def finalize_invoice(request: Request, caller: Caller, account_id: AccountId, body: i.FinalizeIn,
                     key: IdemKey = None) -> Response:  # fmt: skip
    """Freeze the invoice of an ended month and post the credits it draws. Finalizing a month
    again returns the same invoice (200); months are finalized in order (else 409)."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        view = book.finalize_invoice(account_id, body.period)
        return Rendered(200 if view.replayed else 201, _invoice(book, view).model_dump_json(), account_id)

    return write(request, caller, key, "finalize_invoice", body.model_dump(mode="json"), action)


@router.get("/invoices/{invoice_id}", name="get_invoice", operation_id="get_invoice", response_model=i.InvoiceOut,
            tags=["invoicing"])  # fmt: skip
def get_invoice(request: Request, caller: Caller, invoice_id: InvoiceId) -> i.InvoiceOut:
    """A finalized or voided invoice, with its document and credit notes."""
    book = book_of(request)
    view = book.invoice(invoice_id)
    fence_invoice(caller, invoice_id, view.account_id)
    return _invoice(book, view)


@router.get("/invoices/{invoice_id}/explanation", name="explain_invoice", operation_id="explain_invoice",
            response_model=i.ExplanationOut, tags=["invoicing"])  # fmt: skip
def explain_invoice(request: Request, caller: Caller, invoice_id: InvoiceId) -> i.ExplanationOut:
    """Why the invoice says what it says: every line, discount and credit, structured and as text."""
    view = book_of(request).invoice(invoice_id)
    fence_invoice(caller, invoice_id, view.account_id)
    return i.ExplanationOut(id=invoice_id, document=view.document, text=view.explain())


@router.post("/invoices/{invoice_id}/void", name="void_invoice", operation_id="void_invoice",
             response_model=i.InvoiceOut, tags=["invoicing"])  # fmt: skip
def void_invoice(request: Request, caller: Caller, invoice_id: InvoiceId, body: i.InvoiceVoid,
                 key: IdemKey = None) -> Response:  # fmt: skip
    """Void a finalized invoice and reinstate the credits it drew. A second void is 409."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        view = book.void_invoice(invoice_id, reason=body.reason)
        return Rendered(200, _invoice(book, view).model_dump_json(), view.account_id)

    return write(request, caller, key, "void_invoice", body.model_dump(mode="json"), action, reason=body.reason)


@router.post("/invoices/{invoice_id}/reissue", name="reissue_invoice", operation_id="reissue_invoice",
             status_code=201, response_model=i.InvoiceOut, tags=["invoicing"])  # fmt: skip
def reissue_invoice(request: Request, caller: Caller, invoice_id: InvoiceId, body: i.InvoiceReissue,
                    key: IdemKey = None) -> Response:  # fmt: skip
    """Bill a voided invoice's period again (201), with today's terms and credits over the usage
    it billed. Re-issuing it again returns its replacement (200); an invoice that is not voided,
    or whose period was re-issued since, is 409."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        view = book.reissue_invoice(invoice_id, reason=body.reason)
        return Rendered(200 if view.replayed else 201, _invoice(book, view).model_dump_json(), view.account_id)

    return write(request, caller, key, "reissue_invoice", body.model_dump(mode="json"), action, reason=body.reason)


@router.post("/invoices/{invoice_id}/credit-notes", name="issue_credit_note", operation_id="issue_credit_note",
             status_code=201, response_model=i.CreditNoteOut, tags=["invoicing"])  # fmt: skip
def issue_credit_note(request: Request, caller: Caller, invoice_id: InvoiceId, body: i.CreditNoteCreate,
                      key: IdemKey = None) -> Response:  # fmt: skip
    """Reduce what a finalized invoice still owes. More than it owes is 409 credit_note_too_large."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        note = book.issue_credit_note(invoice_id, body.amount, reason=body.reason)
        view = book.invoice(invoice_id)
        out = render.credit_note(note, units_of(book)(view.amount_due.unit.code))
        return Rendered(201, out.model_dump_json(), view.account_id)

    return write(request, caller, key, "issue_credit_note", body.model_dump(mode="json"), action, reason=body.reason)
