"""Every problem status the OpenAPI document lists for a route is one that route really
returns: each is provoked here, route by route (500 is provoked in test_endpoints)."""

from __future__ import annotations

from typing import Any

import pytest

from drawdown.api.access import ROUTE_ROLES
from drawdown.api.app import body_limit
from drawdown.domain.access import Role
from tests.api.conftest import World
from tests.api.test_access import ALLOCATE, DAY, PRICE, REQUESTS, payload

MISSING = {  # a request naming something that does not exist
    "get_unit": ("GET", "/v1/units/NOPE_CREDIT", None),
    "create_account": ("POST", "/v1/accounts", {"id": "kid", "currency": "USD", "parent": "ghost"}),
    "get_account": ("GET", "/v1/accounts/ghost", None),
    "issue_grant": ("POST", "/v1/accounts/ghost/grants", {"amount": "1", "unit": "USD"}),
    "issue_grants": ("POST", "/v1/grants/batch", {"grants": [{"account": "ghost", "amount": "1", "unit": "USD"}]}),
    "list_grants": ("GET", "/v1/accounts/ghost/grants", None),
    "get_grant": ("GET", "/v1/grants/gr_ghost", None),
    "void_grant": ("POST", "/v1/grants/gr_ghost/void", {"reason": "x"}),
    "get_balance": ("GET", "/v1/accounts/ghost/balance", None),
    "get_ledger": ("GET", "/v1/accounts/ghost/ledger", None),
    "create_charge": ("POST", "/v1/accounts/ghost/charges", {"amount": "1", "unit": "USD"}),
    "get_meter_readings": ("GET", f"/v1/meters/ghost/readings?{DAY}", None),
    "authorize": ("POST", "/v1/authorize", {"account": "ghost", "feature": "chat"}),
    "create_hold": ("POST", "/v1/holds", {"account": "ghost", "feature": "chat"}),
    "capture_hold": ("POST", "/v1/holds/hd_ghost/capture", {"quantity": "1"}),
    "release_hold": ("POST", "/v1/holds/hd_ghost/release", {}),
    "get_hold": ("GET", "/v1/holds/hd_ghost", None),
    "create_rate_card": ("POST", "/v1/rate-cards", {"id": "c", "unit": "GHOST_CREDIT", "rates": {"chat": "1"}}),
    "configure_enforcement": ("PUT", "/v1/accounts/ghost/enforcement", {"mode": "enforce"}),
    "publish_price_book": ("POST", "/v1/price-books", {"id": "pb", "unit": "GHOST_CREDIT", "prices": [PRICE]}),
    "amend_contract": ("POST", "/v1/accounts/ghost/contracts", {"price_book": "default"}),
    "list_contracts": ("GET", "/v1/accounts/ghost/contracts", None),
    "preview_invoice": ("GET", "/v1/accounts/ghost/invoices/preview?period=2026-03", None),
    "finalize_invoice": ("POST", "/v1/accounts/ghost/invoices", {"period": "2026-03"}),
    "get_invoice": ("GET", "/v1/invoices/inv_ghost", None),
    "explain_invoice": ("GET", "/v1/invoices/inv_ghost/explanation", None),
    "void_invoice": ("POST", "/v1/invoices/inv_ghost/void", {"reason": "x"}),
    "reissue_invoice": ("POST", "/v1/invoices/inv_ghost/reissue", {"reason": "x"}),
    "issue_credit_note": ("POST", "/v1/invoices/inv_ghost/credit-notes", {"amount": "1", "reason": "x"}),
    "create_finops_node": (
        "POST",
        "/v1/finops/nodes",
        {"id": "d", "level": "department", "name": "D", "parent": "ghost"},
    ),
    "create_finops_rule": (
        "POST",
        "/v1/finops/rules",
        {"id": "r", "kind": "usage_account", "value": "1", "node": "ghost"},
    ),
    "allocate_finops_credit": ("POST", "/v1/finops/credits/cc_ghost/allocate", ALLOCATE),
}
REFUSED = {  # a request credit does not cover
    "create_charge": {"amount": "100000", "unit": "USD"},
    "create_hold": {"account": "acme", "feature": "chat", "quantity": "100000"},
}


def provoke(world: World, operation: str, status: int) -> Any:
    method, path, body = REQUESTS[operation](world, "admin") if operation in REQUESTS else ("GET", "/metrics", None)
    role: str | None = "admin" if ROUTE_ROLES.get(operation) else None
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = payload(body)
    if status == 400:
        kwargs = {"content": b"{", "headers": {"Content-Type": "application/json"}}
    elif status == 401:
        role = None
    elif status == 402:
        kwargs = {"json": REFUSED[operation]}
    elif status == 403:
        refused = sorted(set(Role) - ROUTE_ROLES[operation])
        role = str(refused[0])
    elif status == 404:
        method, path, body = MISSING[operation]
        kwargs = {"json": body}
    elif status == 409:
        first = world.call("admin", "POST", "/v1/units", json={"code": "K_CREDIT", "scale": 1},
                           headers={"Idempotency-Key": "reused"})  # fmt: skip
        assert first.status_code == 201
        headers = {"Idempotency-Key": "reused"}
        if operation == "create_unit":
            kwargs = {"json": {"code": "K_CREDIT", "scale": 2}}
    elif status == 413:
        kwargs = {"content": b"x" * (body_limit(path) + 1), "headers": {"Content-Type": "application/json"}}
    elif status == 422:
        path += "?q=%00"
    elif status == 431:
        headers = {"X-Padding": "p" * 20_000}
    kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
    return world.call(role, method, path, **kwargs)


def documented(world: World) -> list[tuple[str, int]]:
    paths = world.app.openapi()["paths"]
    return [
        (op["operationId"], int(status))
        for ops in paths.values()
        for op in ops.values()
        for status in op["responses"]
        if status.startswith("4")
    ]


def test_the_document_lists_problems_for_every_route(sqlite_world: World) -> None:
    pairs = documented(sqlite_world)
    assert {op for op, _ in pairs} >= set(ROUTE_ROLES) | {"metrics"}
    assert ("get_balance", 403) not in pairs  # every role may read a balance: no 403 is promised
    assert ("create_unit", 404) not in pairs
    assert ("create_charge", 402) in pairs
    assert ("create_hold", 402) in pairs
    assert ("authorize", 409) not in pairs  # writes nothing, takes no Idempotency-Key


@pytest.mark.parametrize("operation", [*sorted(ROUTE_ROLES), "metrics"])
def test_each_documented_problem_status_is_really_returned(sqlite_world: World, operation: str) -> None:
    for op, status in documented(sqlite_world):
        if op != operation:
            continue
        response = provoke(sqlite_world, operation, status)
        assert response.status_code == status, (operation, status, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
