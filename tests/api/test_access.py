"""The role table in ``api/access.py``, tested exhaustively: every route × every role, and the
customer key's fence (another account's data is a 404 indistinguishable from a missing one)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from drawdown.api.access import ROUTE_ROLES
from drawdown.domain.access import Role
from tests.api.conftest import World, finops, fresh_invoice, hold_on, invoicing, metering, voided_invoice

Request = tuple[str, str, dict[str, Any] | None]
DAY = "account=acme&start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z"
PRICE = {"product": "api", "model": "per_unit", "unit_price": "0.01"}
ALLOCATE = {"node": "dept", "amount": "60", "end_date": "2026-12-31", "reason": "matrix"}
EVENT = {"account": "acme", "type": "chat", "time": "2026-03-01T11:00:00Z", "quantity": "1"}

# One valid request per route, so an allowed role gets a 2xx and a refused one a 403.
REQUESTS: dict[str, Callable[[World, str], Request]] = {
    "health": lambda w, role: ("GET", "/v1/health", None),
    "create_unit": lambda w, role: ("POST", "/v1/units", {"code": f"CREDIT_{role.upper()}", "scale": 2}),
    "get_unit": lambda w, role: ("GET", "/v1/units/USD", None),
    "create_account": lambda w, role: ("POST", "/v1/accounts", {"id": f"new-{role}", "currency": "USD"}),
    "list_accounts": lambda w, role: ("GET", "/v1/accounts", None),
    "get_account": lambda w, role: ("GET", "/v1/accounts/acme", None),
    "issue_grant": lambda w, role: ("POST", "/v1/accounts/acme/grants", {"amount": "1", "unit": "USD"}),
    "issue_grants": lambda w, role: (
        "POST",
        "/v1/grants/batch",
        {"grants": [{"account": "acme", "amount": "1", "unit": "USD"}]},
    ),
    "list_grants": lambda w, role: ("GET", "/v1/accounts/acme/grants", None),
    "get_grant": lambda w, role: ("GET", f"/v1/grants/{w.grants['acme']}", None),
    "void_grant": lambda w, role: (
        "POST",
        f"/v1/grants/{w.book.issue_grant('acme', '1', 'USD').id}/void",
        {"reason": "matrix"},
    ),
    "get_balance": lambda w, role: ("GET", "/v1/accounts/acme/balance", None),
    "get_ledger": lambda w, role: ("GET", "/v1/accounts/acme/ledger", None),
    "create_charge": lambda w, role: ("POST", "/v1/accounts/acme/charges", {"amount": "0.01", "unit": "USD"}),
    "verify": lambda w, role: ("GET", "/v1/verify", None),
    "list_audit": lambda w, role: ("GET", "/v1/audit", None),
    # usage and enforcement
    "ingest_events": lambda w, role: ("POST", "/v1/events", {"events": [EVENT | {"key": f"ev-{role}"}]}),
    "ingest_events_ndjson": lambda w, role: (
        "POST",
        "/v1/events/ndjson",
        json.dumps(EVENT | {"key": f"nd-{role}"}).encode(),
    ),
    "create_meter": lambda w, role: (
        "POST",
        "/v1/meters",
        {"id": f"m-{role}", "event_type": "chat", "aggregation": "count"},
    ),
    "get_meter_readings": lambda w, role: (
        "GET",
        f"/v1/meters/{metering(w) and 'chats'}/readings?{DAY}",
        None,
    ),
    "authorize": lambda w, role: ("POST", "/v1/authorize", {"account": metering(w) and "acme", "feature": "chat"}),
    "create_hold": lambda w, role: ("POST", "/v1/holds", {"account": metering(w) and "acme", "feature": "chat"}),
    "capture_hold": lambda w, role: ("POST", f"/v1/holds/{hold_on(w)}/capture", {"quantity": "1"}),
    "release_hold": lambda w, role: ("POST", f"/v1/holds/{hold_on(w)}/release", {}),
    "get_hold": lambda w, role: ("GET", f"/v1/holds/{hold_on(w)}", None),
    "create_rate_card": lambda w, role: (
        "POST",
        "/v1/rate-cards",
        {"id": f"card-{role}", "unit": "AI_CREDIT", "rates": {"chat": "1"}},
    ),
    "configure_enforcement": lambda w, role: ("PUT", "/v1/accounts/acme/enforcement", {"mode": "enforce"}),
    "set_kill_switch": lambda w, role: ("PUT", "/v1/kill-switch", {"engaged": False}),
    # pricing and invoicing
    "publish_price_book": lambda w, role: (
        "POST",
        "/v1/price-books",
        {"id": f"pb-{role}", "unit": "USD", "prices": [PRICE]},
    ),
    "amend_contract": lambda w, role: ("POST", "/v1/accounts/acme/contracts", {"price_book": "default"}),
    "list_contracts": lambda w, role: ("GET", "/v1/accounts/acme/contracts", None),
    "preview_invoice": lambda w, role: (
        "GET",
        f"/v1/accounts/{invoicing(w) and 'acme'}/invoices/preview?period=2026-03",
        None,
    ),
    "finalize_invoice": lambda w, role: (
        "POST",
        f"/v1/accounts/{invoicing(w) and 'acme'}/invoices",
        {"period": "2026-03"},
    ),
    "get_invoice": lambda w, role: ("GET", f"/v1/invoices/{invoicing(w).grants['invoice']}", None),
    "explain_invoice": lambda w, role: ("GET", f"/v1/invoices/{invoicing(w).grants['invoice']}/explanation", None),
    "void_invoice": lambda w, role: ("POST", f"/v1/invoices/{fresh_invoice(w)}/void", {"reason": "matrix"}),
    "reissue_invoice": lambda w, role: ("POST", f"/v1/invoices/{voided_invoice(w)}/reissue", {"reason": "matrix"}),
    "issue_credit_note": lambda w, role: (
        "POST",
        f"/v1/invoices/{invoicing(w).grants['invoice']}/credit-notes",
        {"amount": "1", "reason": "matrix"},
    ),
    # FinOps cloud credits
    "list_finops_nodes": lambda w, role: ("GET", finops(w) and "/v1/finops/nodes", None),
    "create_finops_node": lambda w, role: (
        "POST",
        "/v1/finops/nodes",
        {"id": f"bu-{role}", "level": "business_unit", "name": role},
    ),
    "list_finops_rules": lambda w, role: ("GET", finops(w) and "/v1/finops/rules", None),
    "create_finops_rule": lambda w, role: (
        "POST",
        "/v1/finops/rules",
        {"id": f"rule-{role}", "kind": "tag", "key": "team", "value": role, "node": finops(w) and "port"},
    ),
    "list_finops_credits": lambda w, role: ("GET", finops(w) and "/v1/finops/credits", None),
    "allocate_finops_credit": lambda w, role: (
        "POST",
        f"/v1/finops/credits/{finops(w).grants['credit-older']}/allocate",
        ALLOCATE,
    ),
    "get_finops_report": lambda w, role: ("GET", finops(w) and "/v1/finops/report", None),
    "list_finops_expiring": lambda w, role: ("GET", finops(w) and "/v1/finops/expiring", None),
}


def payload(body: Any) -> dict[str, Any]:
    """Request keyword arguments: NDJSON routes take bytes, the rest JSON."""
    if isinstance(body, bytes):
        return {"content": body, "headers": {"Content-Type": "application/x-ndjson"}}
    return {"json": body}


def test_every_v1_route_is_in_the_role_table_and_has_a_matrix_request(world: World) -> None:
    paths = world.app.openapi()["paths"]
    routes = {op["operationId"] for path, ops in paths.items() if path.startswith("/v1") for op in ops.values()}
    assert routes == set(ROUTE_ROLES) == set(REQUESTS)


@pytest.mark.parametrize("route", sorted(ROUTE_ROLES))
def test_each_role_is_allowed_or_refused_exactly_as_the_table_says(world: World, route: str) -> None:
    for role in Role:
        method, path, body = REQUESTS[route](world, str(role))
        response = world.call(str(role), method, path, **payload(body))
        if role in ROUTE_ROLES[route] or not ROUTE_ROLES[route]:
            assert 200 <= response.status_code < 300, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["code"] == "forbidden"
    method, path, body = REQUESTS[route](world, "anonymous")
    anonymous = world.call(None, method, path, **payload(body))
    assert anonymous.status_code == (200 if not ROUTE_ROLES[route] else 401), anonymous.text


def _same_as_missing(world: World, role: str, path: str, hidden: str, missing: str, **params: Any) -> None:
    """The fenced-off id answers exactly as a never-created one (modulo the id and request id)."""
    fenced = world.call(role, "GET", path.format(hidden), params=params)
    absent = world.call(role, "GET", path.format(missing), params=params)
    assert fenced.status_code == absent.status_code == 404, fenced.text

    def scrub(text: str, name: str) -> dict[str, Any]:
        body = json.loads(text.replace(name, "ID"))
        body.pop("request_id")
        return body

    assert scrub(fenced.text, hidden) == scrub(absent.text, missing)
    assert fenced.headers.keys() - {"x-request-id", "content-length"} == absent.headers.keys() - {
        "x-request-id", "content-length",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/accounts/{}", {}),
        ("/v1/accounts/{}/balance", {}),
        ("/v1/accounts/{}/balance", {"as_of": "2026-03-01T00:00:00Z"}),
        ("/v1/accounts/{}/grants", {}),
        ("/v1/accounts/{}/grants", {"as_of": "2026-03-01T00:00:00Z"}),
        ("/v1/accounts/{}/ledger", {}),
        ("/v1/accounts/{}/ledger", {"as_of": "2026-03-01T00:00:00Z", "after_seq": 0}),
    ],
)
def test_a_customer_key_sees_other_accounts_as_missing(world: World, path: str, params: dict[str, Any]) -> None:
    for other in ("globex", "acme-team", "umbrella"):
        _same_as_missing(world, "customer", path, other, "zzzzzz", **params)
    assert world.call("customer", "GET", path.format("acme"), params=params).status_code == 200


def test_a_customer_key_sees_other_grants_as_missing(world: World) -> None:
    for other in ("globex", "umbrella", "umbrella-ml"):
        _same_as_missing(world, "customer", "/v1/grants/{}", world.grants[other], "gr_" + "Z" * 26)
        _same_as_missing(world, "customer", "/v1/grants/{}", world.grants[other], "gr_" + "Z" * 26,
                         as_of="2026-03-01T12:00:00Z")  # fmt: skip
    assert world.call("customer", "GET", f"/v1/grants/{world.grants['acme']}").status_code == 200


@pytest.mark.parametrize(
    "params", [{}, {"parent": "acme"}, {"parent": "umbrella"}, {"after": "a"}, {"after": "acme"}, {"limit": 1}]
)
def test_a_customer_key_lists_only_its_own_account_whatever_the_filter(world: World, params: dict[str, Any]) -> None:
    items = world.call("customer", "GET", "/v1/accounts", params=params).json()["items"]
    assert {a["id"] for a in items} <= {"acme"}
    everything = world.call("admin", "GET", "/v1/accounts", params=params).json()["items"]
    assert [a for a in everything if a["id"] == "acme"] == items


def test_no_customer_response_mentions_another_account(world: World) -> None:
    world.book.charge("umbrella-ml", "8", "USD")  # draws its own grant, then its parent's pool
    hidden_grant = world.grants["umbrella"]
    others = {
        "customer": ("globex", "umbrella", "acme-team"),
        "customer-ml": ("globex", "acme", '"umbrella"', hidden_grant),
    }
    for role, own in (("customer", "acme"), ("customer-ml", "umbrella-ml")):
        seen = ""
        for path in ("/v1/accounts", f"/v1/accounts/{own}", f"/v1/accounts/{own}/balance",
                     f"/v1/accounts/{own}/grants", f"/v1/accounts/{own}/ledger"):  # fmt: skip
            response = world.call(role, "GET", path)
            assert response.status_code == 200, response.text
            seen += response.text
        for other in others[role]:
            assert re.search(re.escape(other) + r"(?![-\w])", seen) is None, (role, other)


def test_a_revoked_or_unknown_key_is_unauthenticated(world: World) -> None:
    world.book.revoke_key(world.key_ids["finance"])
    for role in ("finance",):
        assert world.call(role, "GET", "/v1/verify").status_code == 401
    forged = world.tokens["admin"][:-4] + "AAAA"
    response = world.client.get("/v1/verify", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_customer_key_finds_its_account_however_many_accounts_sort_before_it(world: World) -> None:
    # umbrella-ml sorts after acme, acme-team, globex and umbrella: on a one-row page of
    # everything it is not there, yet the customer's list must still hold it
    page = world.call("customer-ml", "GET", "/v1/accounts", params={"limit": 1}).json()
    assert [a["id"] for a in page["items"]] == ["umbrella-ml"]
    assert page["next_cursor"] is None


def test_a_customer_key_cannot_learn_its_parent_through_the_parent_filter(world: World) -> None:
    # the fence shows the parent as null; ?parent= must not reveal it either
    as_parent = world.call("customer-ml", "GET", "/v1/accounts", params={"parent": "umbrella"})
    as_missing = world.call("customer-ml", "GET", "/v1/accounts", params={"parent": "zzzzzz"})
    assert as_parent.status_code == as_missing.status_code == 200
    assert as_parent.json() == as_missing.json() == {"items": [], "next_cursor": None}
