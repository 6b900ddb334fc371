"""Every error the API returns, as RFC 9457 ``application/problem+json``, mapped in ONE table.

The domain's error families (``drawdown.domain.errors``) and the few failures only HTTP has
(malformed JSON, unknown route, wrong method, oversized request) map to a status here and
nowhere else. Every problem has ``type``, ``title``, ``status``, ``detail`` (what was wrong
and how to fix it), the stable ``code``, the offending ``field`` and the ``request_id``.
Unexpected exceptions become a bare 500 with the request id: no stack trace leaves.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from drawdown.domain.errors import (
    AccessDenied,
    Conflict,
    CreditNoteTooLarge,
    DrawdownError,
    Forbidden,
    InvalidInput,
    KillSwitchEngaged,
    NotFound,
    Refused,
    Unauthenticated,
)

TYPE_BASE = "https://drawdown.dev/problems/"
MEDIA_TYPE = "application/problem+json"
request_id_var: ContextVar[str] = ContextVar("request_id", default="")
log = logging.getLogger("drawdown.api")

# The one table: domain error family -> HTTP status. Most specific first.
STATUS_BY_ERROR: dict[type[DrawdownError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    AccessDenied: 403,  # grant_limit_exceeded
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    KillSwitchEngaged: 409,  # not the caller's fault nor its credit: a state of the system; retry once lifted
    CreditNoteTooLarge: 409,  # conflicts with what the invoice still owes, like the other invoice conflicts
    Refused: 402,  # insufficient_credit: a valid request the books refuse (Stripe's 402)
}

# Failures only HTTP has: code -> (status, title).
HTTP_PROBLEMS: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "Malformed JSON"),
    "validation_error": (422, "Invalid request"),
    "route_not_found": (404, "No such route"),
    "method_not_allowed": (405, "Method not allowed"),
    "request_too_large": (413, "Request body too large"),
    "headers_too_large": (431, "Request headers too large"),
    "internal_error": (500, "Internal error"),
}

TITLES = {401: "Unauthenticated", 402: "Refused", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          422: "Invalid request"}  # fmt: skip


def status_for(error: DrawdownError) -> int:
    for family, status in STATUS_BY_ERROR.items():
        if isinstance(error, family):
            return status
    return 422


def problem(
    status: int, code: str, detail: str, *, title: str | None = None, field: str | None = None, **extra: Any
) -> Response:
    body = {
        "type": TYPE_BASE + code, "title": title or TITLES.get(status, "Error"), "status": status,
        "detail": detail, "code": code, "field": field, "request_id": request_id_var.get(), **extra,
    }  # fmt: skip
    headers = {"X-Request-Id": request_id_var.get()}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="drawdown"'
    return Response(json.dumps(body, default=str), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def http_problem(code: str, detail: str, **extra: Any) -> Response:
    status, title = HTTP_PROBLEMS[code]
    return problem(status, code, detail, title=title, **extra)


def from_domain(error: DrawdownError) -> Response:
    data: dict[str, Any] = {k: v for k, v in error.data.items() if isinstance(v, str | int | bool) or v is None}
    return problem(status_for(error), error.code, error.message, field=error.field, **data)


# -- handlers installed on the app -----------------------------------------------------------


async def on_domain_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, DrawdownError)
    return from_domain(error)


async def on_validation_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    issues = list(error.errors())
    if any(issue.get("type") == "json_invalid" for issue in issues):
        detail = "the body is not valid JSON; send a JSON object with Content-Type: application/json"
        return http_problem("malformed_json", detail)
    explained = [_explain(issue) for issue in issues[:20]]
    first = explained[0]
    return problem(422, first["code"], first["detail"], field=first["field"], errors=explained)


def _explain(issue: Any) -> dict[str, Any]:
    """One pydantic issue as ``{field, code, detail}``, with advice for the common mistakes."""
    loc = [str(part) for part in issue.get("loc", ()) if part not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    kind, given = issue.get("type", ""), issue.get("input")
    code, detail = "validation_error", f"{field or 'request'}: {issue.get('msg', 'invalid value')}"
    if kind == "string_type" and isinstance(given, float):
        code = "float_not_allowed"
        detail = f'{field} was sent as the JSON number {given!r}; send it as a decimal string such as "{given}"'
    elif kind == "string_type" and isinstance(given, int) and not isinstance(given, bool):
        code = "invalid_amount" if field and "amount" in field else "validation_error"
        detail = f'{field} was sent as the JSON number {given}; send it as a string such as "{given}"'
    elif kind == "extra_forbidden":
        code = "unknown_field"
        detail = f"{field} is not a field of this request; remove it (the OpenAPI document is at /openapi.json)"
    elif kind == "missing":
        code, detail = "missing_field", f"{field} is required"
    return {"field": field, "code": code, "detail": detail}


async def on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        return http_problem("method_not_allowed", f"{request.method} is not allowed on {request.url.path}; see /docs")
    if error.status_code == 404:
        return http_problem("route_not_found", f"no route {request.url.path}; the API lives under /v1, see /docs")
    return problem(error.status_code, "http_error", str(error.detail))


async def on_unexpected(_: Request, error: Exception) -> Response:
    log.error("unhandled error", exc_info=error, extra={"request_id": request_id_var.get()})
    return http_problem("internal_error", "something went wrong on our side; quote the request_id when reporting it")
