"""The FastAPI application: middleware, error handlers, the OpenAPI document, the routes.

``create_app(book, settings)`` builds an app over an open :class:`~drawdown.book.Book`;
``drawdown serve`` runs it under uvicorn, which shuts down gracefully on SIGTERM/SIGINT
(in-flight requests finish, then the book's engine is disposed).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawdown.api import problems
from drawdown.api.access import ROUTE_ROLES
from drawdown.api.observability import VERSION, Metrics
from drawdown.api.routes import router
from drawdown.api.routes_finops import router as finops_router
from drawdown.api.routes_invoicing import router as invoicing_router
from drawdown.api.routes_metering import router as metering_router
from drawdown.api.schemas import Problem
from drawdown.book import Book
from drawdown.bootstrap import ServerSettings
from drawdown.domain import limits
from drawdown.domain.access import Role
from drawdown.domain.errors import DrawdownError

log = logging.getLogger("drawdown.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(Exception):
    pass


class RequestContext:
    """Request id in and out, size limits, one JSON log line and the latency histogram per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else f"req_{uuid.uuid4().hex}"
        problems.request_id_var.set(request_id)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                if not any(k.lower() == b"x-request-id" for k, _ in message["headers"]):
                    message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            rejected = _too_large(scope, headers)
            if rejected is not None:
                await rejected(scope, receive, send_with_id)
            else:
                await self.app(scope, _bounded(receive, body_limit(scope["path"])), send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(elapsed)
            principal = getattr(scope.get("state", {}).get("principal"), "key_id", None)
            log.info("request", extra={"request_id": request_id, "method": scope["method"], "route": template,
                                       "path": scope["path"], "status": status, "duration_ms": round(elapsed * 1000, 3),
                                       "key_id": principal})  # fmt: skip


def _too_large(scope: Scope, headers: dict[bytes, bytes]) -> Response | None:
    header_bytes = sum(len(k) + len(v) for k, v in scope["headers"])
    if header_bytes > limits.REQUEST_HEADER_BYTES_MAX:
        return problems.http_problem(
            "headers_too_large",
            f"request headers total {header_bytes} bytes; at most {limits.REQUEST_HEADER_BYTES_MAX}",
        )
    nul = b"%00" in scope.get("raw_path", b"") or b"%00" in scope.get("query_string", b"")
    if nul and scope["path"].startswith("/v1/"):
        return problems.problem(422, "validation_error", "the path or query contains a NUL (%00) character; remove it")
    length, most = headers.get(b"content-length", b"0"), body_limit(scope["path"])
    if not length.isdigit() or int(length) > most:
        return problems.http_problem("request_too_large", f"the body is over {most} bytes; send smaller batches")
    return None


_EVENT_PATHS = frozenset({"/v1/events", "/v1/events/ndjson"})


def body_limit(path: str) -> int:
    """Bytes a request body may have: event batches (up to 10,000 events) get more than the rest."""
    return limits.EVENTS_BODY_BYTES_MAX if path in _EVENT_PATHS else limits.REQUEST_BODY_BYTES_MAX


def _bounded(receive: Receive, most: int) -> Receive:
    """Count streamed body bytes too (a chunked body has no Content-Length)."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > most:
            raise BodyTooLarge(most)
        return message

    return bounded


async def _on_body_too_large(_: Any, error: Exception) -> Response:
    most = error.args[0] if error.args else limits.REQUEST_BODY_BYTES_MAX
    return problems.http_problem("request_too_large", f"the body is over {most} bytes")


async def _upkeep(book: Book, metrics: Metrics, interval: float, stop: asyncio.Event) -> None:
    """Sweep every ``interval`` seconds (holds past TTL, lapsed grants, async usage) and purge
    stored responses hourly, in a worker thread, until ``stop``; a failure is logged and the
    next sweep retries."""
    purged_at = time.monotonic()
    while True:
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        try:
            report = await asyncio.to_thread(book.sweep)
            if time.monotonic() - purged_at >= limits.PURGE_EVERY_SECONDS:
                purged_at = time.monotonic()
                await asyncio.to_thread(book.purge_stored_responses)
        except Exception:
            metrics.sweep_failures.inc()
            log.exception("sweep failed")
            continue
        for kind, count in (
            ("holds_expired", report.holds_expired),
            ("grants_expired", report.grants_expired),
            ("usage_charged", report.usage_charged),
            ("usage_skipped", report.usage_skipped),
        ):
            metrics.swept.labels(kind).inc(count)
        if report.changed:
            log.info(
                "swept",
                extra={
                    "holds_expired": report.holds_expired,
                    "grants_expired": report.grants_expired,
                    "usage_charged": report.usage_charged,
                    "usage_skipped": report.usage_skipped,
                },
            )


def create_app(book: Book, settings: ServerSettings | None = None, *, close_book: bool = False) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        purged = book.purge_stored_responses()
        log.info("started", extra={"stored_responses_purged": purged})
        interval, stop = float(app.state.settings.sweep_seconds), asyncio.Event()
        upkeep = asyncio.create_task(_upkeep(book, metrics, interval, stop)) if interval > 0 else None
        yield
        if upkeep is not None:
            stop.set()
            await upkeep  # a sweep under way finishes before the book closes
        if close_book:
            book.close()
        log.info("stopped")

    app = FastAPI(
        title="drawdown", version=VERSION, lifespan=lifespan,
        description="Credits ledger API. Errors are RFC 9457 application/problem+json. "
        "Authenticate with 'Authorization: Bearer <API key>'.",
    )  # fmt: skip
    app.state.book = book
    app.state.settings = settings or ServerSettings.from_env()
    app.state.metrics = metrics
    app.include_router(router)
    app.include_router(metering_router)
    app.include_router(invoicing_router)
    app.include_router(finops_router)
    app.add_exception_handler(DrawdownError, problems.on_domain_error)
    app.add_exception_handler(RequestValidationError, problems.on_validation_error)
    app.add_exception_handler(HTTPException, problems.on_http_error)
    app.add_exception_handler(BodyTooLarge, _on_body_too_large)
    app.add_exception_handler(Exception, problems.on_unexpected)
    app.add_middleware(RequestContext, metrics=metrics)

    @app.get("/metrics", name="metrics", operation_id="metrics", tags=["operations"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format."}})  # fmt: skip
    def prometheus() -> Response:
        """Prometheus metrics: request latency by route and status, ledger writes. No key needed."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


# Which problems each route can return, beyond its success response.
_ERRORS = {
    400: "Malformed JSON body (`malformed_json`).",
    401: "No API key, or an unknown or revoked one (`unauthenticated`).",
    402: "Valid, but credit (and overdraft headroom) does not cover it (`insufficient_credit`).",
    403: "The key's role may not call this route (`forbidden`), or a support key is over its grant limit "
    "(`grant_limit_exceeded`).",
    404: "A named account, grant, unit, hold, meter, rate card or priced feature does not exist "
    "(`account_not_found`, `hold_not_found`, `meter_not_found`, `rate_card_not_found`, `feature_not_priced`, "
    "`price_book_not_found`, `invoice_not_found`, `finops_node_not_found`, `cloud_credit_not_found`, …) "
    "— or a customer key asked for another account's data.",
    409: "Conflicts with what is recorded: `idempotency_conflict` (same Idempotency-Key, different request), "
    "`account_already_exists`, `unit_already_exists`, `grant_already_voided`, `hierarchy_cycle`, "
    "`meter_already_exists`, `hold_already_captured`, `hold_already_released`, `hold_expired`, "
    "`kill_switch_engaged` (reserving while the kill switch is on), `invoice_already_finalized`, "
    "`invoice_out_of_order`, `invoice_already_voided`, `invoice_counted_in_term` (voiding an invoice a term "
    "true-up counted), `invoice_not_voided` and `invoice_superseded` (re-issuing an invoice that is not voided, or "
    "whose period was re-issued since), `credit_note_too_large`, `finops_rule_already_exists`.",
    413: "The body is over 1 MiB, or 16 MiB for the event batches (`request_too_large`).",
    422: "The request is well-formed but invalid: wrong type, unknown field, float amount (`float_not_allowed`),"
    " bad amount, instant, time zone, id or limit, or a NUL character. `field` names the culprit.",
    431: "Request headers over 16 KiB (`headers_too_large`).",
    500: "An unexpected failure (`internal_error`); quote the request_id.",
}


# Routes that name something that may not exist: an account or grant in the path or body,
# a unit, a parent.
_NOT_FOUND = {"get_unit", "create_account", "get_account", "issue_grant", "issue_grants", "list_grants",
              "get_grant", "void_grant", "get_balance", "get_ledger", "create_charge", "get_meter_readings",
              "authorize", "create_hold", "capture_hold", "release_hold", "get_hold", "create_rate_card",
              "configure_enforcement", "publish_price_book", "amend_contract", "list_contracts", "preview_invoice",
              "finalize_invoice", "get_invoice", "explain_invoice", "void_invoice", "reissue_invoice",
              "issue_credit_note",
              "create_finops_node", "create_finops_rule", "allocate_finops_credit"}  # fmt: skip
_REFUSED = {"create_charge", "create_hold"}  # may answer 402 insufficient_credit
_NO_IDEMPOTENCY_KEY = {"authorize"}  # a POST that writes nothing: no key, no 409
_NOT_JSON = {"ingest_events_ndjson"}  # NDJSON: a line that is not JSON is that line's result, not a 400


def _errors_for(path: str, method: str, operation_id: str) -> list[int]:
    """Exactly the problem statuses a route can answer with (a test provokes each one)."""
    codes = [413, 431, 500]  # any request: body or headers too large, or a bug
    if path.startswith("/v1/"):
        codes.append(422)  # at least a NUL in the query; most routes have more to validate
    roles = ROUTE_ROLES.get(operation_id)
    if roles:
        codes.append(401)
        if set(Role) - roles or operation_id in ("issue_grant", "issue_grants"):
            codes.append(403)  # a role outside the table, or a support key over its grant limit
    if operation_id in _NOT_FOUND:
        codes.append(404)
    if method in ("post", "put"):
        if operation_id not in _NOT_JSON:
            codes.append(400)  # malformed JSON
        if operation_id not in _NO_IDEMPOTENCY_KEY:
            codes.append(409)  # an Idempotency-Key reused for another request
    if operation_id in _REFUSED:
        codes.append(402)
    return sorted(codes)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem_content = {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for code in [c for c in responses if c.startswith(("4", "5"))]:
                del responses[code]
            for code in _errors_for(path, method, operation.get("operationId", "")):
                responses[str(code)] = {"description": _ERRORS[code], "content": problem_content}
            if path.startswith("/v1/") and operation.get("operationId") != "health":
                operation["security"] = [{"bearer": []}]
            for code, response in responses.items():
                headers = response.setdefault("headers", {})
                headers["X-Request-Id"] = {
                    "description": "The request's id (echoed if the caller sent a valid one).",
                    "schema": {"type": "string"},
                }
                if method in ("post", "put") and code.startswith("2") and operation.get("operationId") != "authorize":
                    headers["Idempotent-Replayed"] = {
                        "description": "'true' when this is the stored response of an earlier request with the "
                        "same Idempotency-Key and body.",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                if code == "401":
                    headers["WWW-Authenticate"] = {
                        "description": 'Bearer realm="drawdown"',
                        "schema": {"type": "string"},
                    }
    app.openapi_schema = doc
    return doc
