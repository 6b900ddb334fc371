"""The ``/v1`` usage and enforcement endpoints (issue 3): events, meters, authorize, holds,
rate cards, account enforcement and the kill switch. Same shape as ``routes``: parse,
check access, call the book, render; every write goes through ``edge.write``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import render
from drawdown.api import schemas_metering as m
from drawdown.api.access import fence_account, fence_hold
from drawdown.api.edge import AccountId, Caller, IdemKey, book_of, units_of, write
from drawdown.book import Book
from drawdown.domain import limits
from drawdown.services.requests import Rendered, WriteRequest, book_key

router = APIRouter(prefix="/v1")
HoldId = Annotated[str, Path(max_length=limits.ID_LENGTH_MAX, description="The hold's id.")]
MeterId = Annotated[str, Path(max_length=limits.ID_LENGTH_MAX, description="The meter's id.")]

# -- usage events and meters -----------------------------------------------------------------


@router.post("/events", name="ingest_events", operation_id="ingest_events", response_model=m.IngestOut,
             tags=["usage"])  # fmt: skip
def ingest_events(request: Request, caller: Caller, body: m.EventBatch, key: IdemKey = None) -> Response:
    """Record up to 10,000 usage events. Each gets a result: accepted, duplicate (same key seen
    before) or rejected with a code and message (unknown account or event type, too late, in the
    future…). A malformed batch (wrong types, floats, unknown fields) is refused whole with 422."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        events = [e.model_dump(exclude_none=True) for e in body.events]
        return Rendered(200, render.ingest(book.ingest(events)).model_dump_json())

    return write(request, caller, key, "ingest_events", body.model_dump(mode="json"), action, reason="ingest")


_NDJSON_BODY = {
    "requestBody": {
        "required": True,
        "description": "One event object per line, as in POST /v1/events; blank lines are skipped.",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


@router.post("/events/ndjson", name="ingest_events_ndjson", operation_id="ingest_events_ndjson",
             response_model=m.IngestOut, tags=["usage"], openapi_extra=_NDJSON_BODY)  # fmt: skip
async def ingest_events_ndjson(request: Request, caller: Caller, key: IdemKey = None) -> Response:
    """Record up to 10,000 usage events sent as NDJSON (``application/x-ndjson``), the fast path
    for bulk senders. Each line gets a result as in ``POST /v1/events``, with ``index`` its
    0-based line number; a line that is not JSON is rejected with ``invalid_json``."""
    data = await request.body()
    digest = hashlib.sha256(data).hexdigest()

    def action(book: Book, _: WriteRequest) -> Rendered:
        return Rendered(200, render.ingest(book.ingest_ndjson(data)).model_dump_json())

    body = {"ndjson_sha256": digest, "bytes": len(data)}
    return await run_in_threadpool(write, request, caller, key, "ingest_events_ndjson", body, action, reason="ingest")


@router.post("/meters", name="create_meter", operation_id="create_meter", status_code=201, response_model=m.MeterOut,
             tags=["usage"])  # fmt: skip
def create_meter(request: Request, caller: Caller, body: m.MeterCreate, key: IdemKey = None) -> Response:
    """Define a meter over one event type; defining the same meter again identically returns it."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        meter = book.define_meter(
            body.id, event_type=body.event_type, aggregation=body.aggregation, property=body.property,
            filters=body.filters,
        )  # fmt: skip
        return Rendered(201, render.meter(meter).model_dump_json())

    return write(request, caller, key, "define_meter", body.model_dump(mode="json"), action)


@router.get("/meters/{meter_id}/readings", name="get_meter_readings", operation_id="get_meter_readings",
            response_model=m.ReadingList, tags=["usage"])  # fmt: skip
def get_meter_readings(
    request: Request, caller: Caller, meter_id: MeterId,
    account: Annotated[str, Query(max_length=limits.ID_LENGTH_MAX, description="The account metered.")],
    start: Annotated[str, Query(max_length=64, description="ISO 8601 instant with an offset; inclusive.")],
    end: Annotated[str, Query(max_length=64, description="ISO 8601 instant with an offset; exclusive.")],
    period: Annotated[str | None, Query(max_length=16, description="day, week or month; omit for one total.")] = None,
) -> m.ReadingList:  # fmt: skip
    """The meter's value per day, week or month (in the account's time zone) over [start, end)."""
    fence_account(caller, account)
    readings = book_of(request).meter(meter_id, account, start=start, end=end, period=period)
    return render.readings(meter_id, account, readings)


# -- authorize and holds ---------------------------------------------------------------------


@router.post("/authorize", name="authorize", operation_id="authorize", response_model=m.DecisionOut,
             tags=["enforcement"])  # fmt: skip
def authorize(request: Request, caller: Caller, body: m.AuthorizeIn) -> m.DecisionOut:
    """May the account use this quantity of the feature now? Allow or deny, with the reason, the
    cost and the balance. Writes nothing (a shadow-mode account logs the decision it would block)."""
    fence_account(caller, body.account)
    book = book_of(request)
    decision = book.authorize(body.account, body.feature, body.quantity)
    return render.decision(decision, units_of(book)(decision.balance.unit))


@router.post("/holds", name="create_hold", operation_id="create_hold", status_code=201, response_model=m.HoldOut,
             tags=["enforcement"])  # fmt: skip
def create_hold(request: Request, caller: Caller, body: m.HoldCreate, key: IdemKey = None) -> Response:
    """Reserve what the quantity of the feature costs until capture, release or ttl_seconds pass.
    Not enough credit is 402 insufficient_credit; an engaged kill switch is 409 kill_switch_engaged."""

    def action(book: Book, write: WriteRequest) -> Rendered:
        hold = book.reserve(body.account, body.feature, body.quantity, ttl_seconds=body.ttl_seconds,
                            idempotency_key=book_key(write))  # fmt: skip
        return Rendered(201, render.hold(hold, units_of(book)(hold.unit)).model_dump_json(), hold.account_id)

    return write(request, caller, key, "reserve", body.model_dump(mode="json"), action)


@router.post("/holds/{hold_id}/capture", name="capture_hold", operation_id="capture_hold", response_model=m.HoldOut,
             tags=["enforcement"])  # fmt: skip
def capture_hold(request: Request, caller: Caller, hold_id: HoldId, body: m.CaptureIn, key: IdemKey = None) -> Response:
    """Burn what the quantity costs (at most what is held) and return the rest. A hold resolves
    once: capturing a captured, released or expired hold is 409."""

    def action(book: Book, write: WriteRequest) -> Rendered:
        hold = book.capture(hold_id, body.quantity, idempotency_key=book_key(write))
        return Rendered(200, render.hold(hold, units_of(book)(hold.unit)).model_dump_json(), hold.account_id)

    return write(request, caller, key, "capture", body.model_dump(mode="json"), action)


@router.post("/holds/{hold_id}/release", name="release_hold", operation_id="release_hold", response_model=m.HoldOut,
             tags=["enforcement"])  # fmt: skip
def release_hold(request: Request, caller: Caller, hold_id: HoldId, body: m.ReleaseIn | None = None,
                 key: IdemKey = None) -> Response:  # fmt: skip
    """Return all of a hold's credit. Releasing a resolved hold is 409."""

    def action(book: Book, write: WriteRequest) -> Rendered:
        hold = book.release(hold_id, idempotency_key=book_key(write))
        return Rendered(200, render.hold(hold, units_of(book)(hold.unit)).model_dump_json(), hold.account_id)

    return write(request, caller, key, "release", {}, action)


@router.get("/holds/{hold_id}", name="get_hold", operation_id="get_hold", response_model=m.HoldOut,
            tags=["enforcement"])  # fmt: skip
def get_hold(request: Request, caller: Caller, hold_id: HoldId) -> m.HoldOut:
    """A hold and how it resolved. A customer key sees its own account's holds only."""
    book = book_of(request)
    hold = book.hold(hold_id)
    fence_hold(caller, hold_id, hold.account_id)
    return render.hold(hold, units_of(book)(hold.unit))


# -- rate cards, account enforcement, kill switch --------------------------------------------


@router.post("/rate-cards", name="create_rate_card", operation_id="create_rate_card", status_code=201,
             response_model=m.RateCardOut, tags=["enforcement"])  # fmt: skip
def create_rate_card(request: Request, caller: Caller, body: m.RateCardCreate, key: IdemKey = None) -> Response:
    """Publish the next version of a rate card: feature → credits per unit, in a credit unit."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        card = book.define_rate_card(body.id, body.unit, body.rates, effective_at=body.effective_at)
        return Rendered(201, render.rate_card(card).model_dump_json())

    return write(request, caller, key, "define_rate_card", body.model_dump(mode="json"), action)


@router.put("/accounts/{account_id}/enforcement", name="configure_enforcement", operation_id="configure_enforcement",
            response_model=m.EnforcementOut, tags=["enforcement"])  # fmt: skip
def configure_enforcement(request: Request, caller: Caller, account_id: AccountId, body: m.EnforcementIn,
                          key: IdemKey = None) -> Response:  # fmt: skip
    """Set the account's mode, overdraft limits (unit → amount) and rate-card pin; omitted fields keep their value."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        settings = book.configure_account(
            account_id, mode=body.mode, overdraft_limits=body.overdraft_limits, rate_card=body.rate_card,
            rate_card_version=body.rate_card_version,
        )  # fmt: skip
        return Rendered(200, render.enforcement(settings, units_of(book)).model_dump_json(), account_id)

    return write(request, caller, key, "configure_account", body.model_dump(mode="json"), action)


@router.put("/kill-switch", name="set_kill_switch", operation_id="set_kill_switch", response_model=m.KillSwitchOut,
            tags=["enforcement"])  # fmt: skip
def set_kill_switch(request: Request, caller: Caller, body: m.KillSwitchIn, key: IdemKey = None) -> Response:
    """While engaged, every authorization is denied and every reserve is 409 kill_switch_engaged."""

    def action(book: Book, _: WriteRequest) -> Rendered:
        book.set_kill_switch(body.engaged)
        return Rendered(200, m.KillSwitchOut(engaged=body.engaged).model_dump_json())

    reason = "kill switch engaged" if body.engaged else "kill switch disengaged"
    return write(request, caller, key, "set_kill_switch", body.model_dump(mode="json"), action, reason=reason)
