"""The ``/v1`` endpoints: parse, check access, call the book, render. Nothing else.

Reads call the book directly. Writes go through ``services.requests.run_write``: one
database transaction holding the idempotent-replay check, the book call(s), the audit
record and the stored response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from drawdown.api import render
from drawdown.api import schemas as s
from drawdown.api.access import fence_account, fence_grant
from drawdown.api.edge import (
    AccountId,
    AsOf,
    Caller,
    GrantId,
    IdemKey,
    Limit,
    book_of,
    check_support_limit,
    units_of,
    write,
)
from drawdown.api.observability import VERSION
from drawdown.book import Book
from drawdown.domain import limits
from drawdown.domain.access import Principal, Role
from drawdown.services.requests import Rendered, WriteRequest, book_key

router = APIRouter(prefix="/v1")

# -- health and units ------------------------------------------------------------------------


@router.get("/health", name="health", operation_id="health", response_model=s.Health, tags=["operations"])
def health() -> s.Health:
    """Liveness: no key needed."""
    return s.Health(status="ok", version=VERSION)


@router.post("/units", name="create_unit", operation_id="create_unit", status_code=201, response_model=s.UnitOut,
             tags=["units"])  # fmt: skip
def create_unit(request: Request, caller: Caller, body: s.UnitCreate, key: IdemKey = None) -> Response:
    """Define a custom credit unit (e.g. AI_CREDIT at scale 3). Defining it again identically is a no-op."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        unit = book.define_unit(body.code, scale=body.scale)
        out = s.UnitOut(code=unit.code, kind=str(unit.kind), scale=unit.scale, minor_digits=unit.minor_digits)
        return Rendered(201, out.model_dump_json())

    return write(request, caller, key, "define_unit", body.model_dump(mode="json"), action)


@router.get("/units/{code}", name="get_unit", operation_id="get_unit", response_model=s.UnitOut, tags=["units"])
def get_unit(request: Request, caller: Caller, code: Annotated[str, Path(max_length=32)]) -> s.UnitOut:
    """A currency or credit unit and the scale its amounts are kept at."""
    unit = book_of(request).unit(code)
    return s.UnitOut(code=unit.code, kind=str(unit.kind), scale=unit.scale, minor_digits=unit.minor_digits)


# -- accounts --------------------------------------------------------------------------------


@router.post("/accounts", name="create_account", operation_id="create_account", status_code=201,
             response_model=s.AccountOut, tags=["accounts"])  # fmt: skip
def create_account(request: Request, caller: Caller, body: s.AccountCreate, key: IdemKey = None) -> Response:
    """Create an account; creating the same account again identically returns it."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        caps = {code: (cap.amount, cap.period) for code, cap in (body.pool_caps or {}).items()}
        account = book.create_account(
            body.id, currency=body.currency, time_zone=body.time_zone, parent=body.parent,
            drawdown_policy=body.drawdown_policy, pool_caps=caps, metadata=body.metadata,
        )  # fmt: skip
        return Rendered(201, render.account(account, units_of(book)).model_dump_json(), account.id)

    return write(request, caller, key, "create_account", body.model_dump(mode="json"), action)


@router.get("/accounts", name="list_accounts", operation_id="list_accounts", response_model=s.AccountPage,
            tags=["accounts"])  # fmt: skip
def list_accounts(
    request: Request,
    caller: Caller,
    after: Annotated[
        str | None, Query(max_length=limits.ID_LENGTH_MAX, description="Cursor: the last id seen.")
    ] = None,
    limit: Limit = 100,
    parent: Annotated[
        str | None, Query(max_length=limits.ID_LENGTH_MAX, description="Only this account's children.")
    ] = None,
) -> s.AccountPage:
    """Accounts in id order, a page at a time. A customer key lists only its own account."""
    book = book_of(request)
    if caller.role is Role.CUSTOMER:
        # Its own account alone, read directly: filtering a page of everyone's would lose it
        # behind the accounts that sort first, and ?parent= would reveal the parent it hides.
        own = caller.account_id or ""
        found = [book.account(own)] if parent is None and (after is None or own > after) else []
    else:
        found = book.accounts(after=after, limit=limit, parent=parent)
    items = [_fenced(caller, render.account(a, units_of(book))) for a in found]
    more = caller.role is not Role.CUSTOMER and len(found) == limit
    return s.AccountPage(items=items, next_cursor=items[-1].id if more and items else None)


@router.get("/accounts/{account_id}", name="get_account", operation_id="get_account", response_model=s.AccountOut,
            tags=["accounts"])  # fmt: skip
def get_account(request: Request, caller: Caller, account_id: AccountId) -> s.AccountOut:
    fence_account(caller, account_id)
    book = book_of(request)
    return _fenced(caller, render.account(book.account(account_id), units_of(book)))


def _fenced(caller: Principal, account: s.AccountOut) -> s.AccountOut:
    """A customer key sees nothing of other accounts, not even its parent's id."""
    return account.model_copy(update={"parent": None}) if caller.role is Role.CUSTOMER else account


# -- grants ----------------------------------------------------------------------------------


def _issue(book: Book, caller: Principal, account: str, body: s.GrantCreate, key: str | None) -> s.GrantOut:
    fields = body.model_dump(exclude={"amount", "unit", "account"})
    grant = book.issue_grant(account, body.amount, body.unit, idempotency_key=key, **fields)
    view = book.grant(grant.id)
    return render.grant(view, units_of(book)(grant.unit))


@router.post("/accounts/{account_id}/grants", name="issue_grant", operation_id="issue_grant", status_code=201,
             response_model=s.GrantOut, tags=["grants"])  # fmt: skip
def issue_grant(request: Request, caller: Caller, account_id: AccountId, body: s.GrantCreate,
                key: IdemKey = None) -> Response:  # fmt: skip
    """Issue a grant of credit. A support key may issue at most its grant limit per grant (else 403)."""
    check_support_limit(request, caller, [body.amount])

    def action(book: Book, write: WriteRequest) -> Rendered:
        return Rendered(201, _issue(book, caller, account_id, body, book_key(write)).model_dump_json(), account_id)

    return write(request, caller, key, "issue_grant", body.model_dump(mode="json"), action, reason=body.reason_code)


@router.post("/grants/batch", name="issue_grants", operation_id="issue_grants", status_code=201,
             response_model=s.GrantList, tags=["grants"])  # fmt: skip
def issue_grants(request: Request, caller: Caller, body: s.GrantBatch, key: IdemKey = None) -> Response:
    """Issue up to 1,000 grants in one transaction: all are issued or none is."""
    check_support_limit(request, caller, [g.amount for g in body.grants])

    def action(book: Book, write: WriteRequest) -> Rendered:
        items = [_issue(book, caller, g.account, g, book_key(write, f"#{i}")) for i, g in enumerate(body.grants)]
        return Rendered(201, s.GrantList(items=items).model_dump_json())

    return write(request, caller, key, "issue_grants", body.model_dump(mode="json"), action, reason="batch")


@router.get("/accounts/{account_id}/grants", name="list_grants", operation_id="list_grants", response_model=s.GrantList,
            tags=["grants"])  # fmt: skip
def list_grants(
    request: Request, caller: Caller, account_id: AccountId, as_of: AsOf = None,
    unit: Annotated[str | None, Query(max_length=32, description="Default: the account's currency.")] = None,
) -> s.GrantList:  # fmt: skip
    """An account's grants in one unit with their figures and status, now or as of an instant."""
    fence_account(caller, account_id)
    book = book_of(request)
    views = book.grants(account_id, unit, as_of=as_of)
    unit_of = units_of(book)
    return s.GrantList(items=[render.grant(v, unit_of(v.state.grant.unit)) for v in views])


@router.get("/grants/{grant_id}", name="get_grant", operation_id="get_grant", response_model=s.GrantOut,
            tags=["grants"])  # fmt: skip
def get_grant(request: Request, caller: Caller, grant_id: GrantId, as_of: AsOf = None) -> s.GrantOut:
    book = book_of(request)
    view = book.grant(grant_id, as_of=as_of)
    fence_grant(caller, grant_id, view.state.grant.account_id)
    return render.grant(view, book.unit(view.state.grant.unit))


@router.post("/grants/{grant_id}/void", name="void_grant", operation_id="void_grant", response_model=s.VoidOut,
             tags=["grants"])  # fmt: skip
def void_grant(request: Request, caller: Caller, grant_id: GrantId, body: s.VoidCreate,
               key: IdemKey = None) -> Response:  # fmt: skip
    """Void what is left of a grant. Irreversible; a second void is 409 grant_already_voided."""

    def action(book: Book, write: WriteRequest) -> Rendered:
        tx = book.void_grant(grant_id, reason=body.reason, idempotency_key=book_key(write))
        grant = book.grant(grant_id)
        voided = render.grant(grant, book.unit(grant.state.grant.unit)).voided
        out = s.VoidOut(grant_id=grant_id, transaction_id=tx.id, voided=voided)
        return Rendered(200, out.model_dump_json(), grant.state.grant.account_id)

    return write(request, caller, key, "void_grant", body.model_dump(mode="json"), action, reason=body.reason)


# -- balances, ledger, charges ---------------------------------------------------------------


@router.get("/accounts/{account_id}/balance", name="get_balance", operation_id="get_balance",
            response_model=s.BalanceOut, tags=["balances"])  # fmt: skip
def get_balance(
    request: Request, caller: Caller, account_id: AccountId, as_of: AsOf = None,
    unit: Annotated[str | None, Query(max_length=32, description="Default: the account's currency.")] = None,
) -> s.BalanceOut:  # fmt: skip
    """Available, reserved, consumed, expired, voided, pending and issued credit, now or as of an instant."""
    fence_account(caller, account_id)
    book = book_of(request)
    bal = book.balance(account_id, unit, as_of=as_of)
    return render.balance(bal, units_of(book)(bal.unit))


@router.get("/accounts/{account_id}/ledger", name="get_ledger", operation_id="get_ledger",
            response_model=s.LedgerPage, tags=["ledger"])  # fmt: skip
def get_ledger(
    request: Request, caller: Caller, account_id: AccountId, as_of: AsOf = None,
    after_seq: Annotated[int, Query(ge=0, le=2**62, description="Cursor: the last seq seen.")] = 0,
    limit: Limit = 100,
) -> s.LedgerPage:  # fmt: skip
    """The transactions that touched an account, oldest first. Customer keys see only their own postings."""
    fence_account(caller, account_id)
    book = book_of(request)
    txs = book.ledger(account_id, as_of=as_of, after_seq=after_seq, limit=limit)
    only = caller.account_id if caller.role is Role.CUSTOMER else None
    items = [render.transaction(tx, units_of(book), only_account=only) for tx in txs]
    return s.LedgerPage(items=items, next_cursor=txs[-1].seq if len(txs) == limit else None)


@router.post("/accounts/{account_id}/charges", name="create_charge", operation_id="create_charge", status_code=201,
             response_model=s.ChargeOut, tags=["charges"])  # fmt: skip
def create_charge(request: Request, caller: Caller, account_id: AccountId, body: s.ChargeCreate,
                  key: IdemKey = None) -> Response:  # fmt: skip
    """Burn credit through the drawdown order. Without allow_partial, a shortfall is 402 insufficient_credit."""

    def action(book: Book, write: WriteRequest) -> Rendered:
        result = book.charge(
            account_id, body.amount, body.unit, category=body.category, product=body.product, at=body.at,
            allow_partial=body.allow_partial, reason=body.reason, idempotency_key=book_key(write),
        )  # fmt: skip
        return Rendered(201, render.charge(result).model_dump_json(), account_id)

    return write(request, caller, key, "charge", body.model_dump(mode="json"), action, reason=body.reason)


# -- verify and audit ------------------------------------------------------------------------


@router.get("/verify", name="verify", operation_id="verify", response_model=s.VerifyOut, tags=["operations"])
def verify(request: Request, caller: Caller) -> s.VerifyOut:
    """Recompute the ledger's hash chain and report the first broken link, if any."""
    return render.verify(book_of(request).verify())


@router.get("/audit", name="list_audit", operation_id="list_audit", response_model=s.AuditPage, tags=["operations"])
def list_audit(
    request: Request, caller: Caller,
    after: Annotated[str | None, Query(max_length=64, description="Cursor: the last audit id seen.")] = None,
    limit: Limit = 100,
    account: Annotated[str | None, Query(max_length=limits.ID_LENGTH_MAX, description="Only this account.")] = None,
) -> s.AuditPage:  # fmt: skip
    """Every write: actor (key id and role), request id, time, reason and ledger transaction ids."""
    found = book_of(request).audit(after=after, limit=limit, account=account)
    items = [render.audit(r) for r in found]
    return s.AuditPage(items=items, next_cursor=items[-1].id if len(found) == limit else None)
