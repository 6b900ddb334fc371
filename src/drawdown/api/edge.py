"""What every route shares: parameter types, authentication with the role check, unit
lookups, the support grant limit, and ``write`` — the one path by which a route changes
anything (``services.requests.run_write``: one transaction with replay and audit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request
from fastapi.responses import Response

from drawdown.api.access import allow
from drawdown.api.problems import request_id_var
from drawdown.book import Book
from drawdown.domain import limits
from drawdown.domain.access import Principal, Role, check_grant_limit
from drawdown.domain.errors import Unauthenticated
from drawdown.domain.money import CURRENCIES, Unit, parse_decimal
from drawdown.services.ports import Deps
from drawdown.services.requests import Rendered, WriteRequest, run_write

AccountId = Annotated[str, Path(max_length=limits.ID_LENGTH_MAX, description="The account's id.")]
GrantId = Annotated[str, Path(max_length=limits.ID_LENGTH_MAX, description="The grant's id.")]
AsOf = Annotated[str | None, Query(max_length=64, description="An ISO 8601 instant with an offset; default now.")]
Limit = Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX, description="Page size.")]
IdemKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=limits.API_IDEMPOTENCY_KEY_LENGTH_MAX,
           description="Any unique string (a UUID is good). A retry with the same key and body returns the "
           "stored response with Idempotent-Replayed: true; the same key with another body is 409."),
]  # fmt: skip


def book_of(request: Request) -> Book:
    book: Book = request.app.state.book
    return book


def principal(request: Request) -> Principal:
    """Authenticate the bearer key and check the route's role rule (``api/access.py``)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "send your API key as 'Authorization: Bearer dd_key_…' (create one: drawdown keys create)"
        )
    caller = book_of(request).authenticate(token.strip())
    request.state.principal = caller
    allow(request.scope["route"].name, caller)
    return caller


Caller = Annotated[Principal, Depends(principal)]


def units_of(book: Book) -> Callable[[str], Unit]:
    cache: dict[str, Unit] = {}

    def unit_of(code: str) -> Unit:
        if code not in cache:
            cache[code] = CURRENCIES.get(code) or book.unit(code)  # currencies are built in: no query
        return cache[code]

    return unit_of


def write(
    request: Request, caller: Principal, key: str | None, operation: str, body: dict[str, Any],
    action: Callable[[Book, WriteRequest], Rendered], *, reason: str = "",
) -> Response:  # fmt: skip
    book = book_of(request)
    path = f"{request.method} {request.url.path}"
    write = WriteRequest(caller, request_id_var.get(), operation, path, body, reason, key)

    def run(deps: Deps) -> Rendered:
        return action(Book(deps, book.engine, actor=caller.actor), write)

    outcome = run_write(book.deps, write, run)
    metrics = request.app.state.metrics
    metrics.ledger_writes.labels(operation).inc(len(outcome.transaction_ids))
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.replayed:
        metrics.replays.labels(operation).inc()
    return Response(outcome.body, status_code=outcome.status, media_type="application/json", headers=headers)


def check_support_limit(request: Request, caller: Principal, amounts: list[str]) -> None:
    if caller.role is not Role.SUPPORT:
        return
    limit = caller.grant_limit if caller.grant_limit is not None else request.app.state.settings.support_grant_limit
    for amount in amounts:
        check_grant_limit(replace(caller, grant_limit=limit), parse_decimal(amount, field="amount"))
