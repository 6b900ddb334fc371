"""Idempotency-Key on every write, Stripe's model: replay, conflict, concurrency, retention."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer, World
from tests.conftest import FixedClock
from tests.integration.dump import snapshot

WRITES = [  # method, path, a body, a different valid body
    ("POST", "/v1/units", {"code": "IDEM_CREDIT", "scale": 1}, {"code": "IDEM_CREDIT", "scale": 2}),
    ("POST", "/v1/accounts", {"id": "idem", "currency": "USD"}, {"id": "idem2", "currency": "USD"}),
    ("POST", "/v1/accounts/acme/grants", {"amount": "2", "unit": "USD"}, {"amount": "3", "unit": "USD"}),
    (
        "POST",
        "/v1/grants/batch",
        {"grants": [{"account": "acme", "amount": "2", "unit": "USD"}]},
        {"grants": [{"account": "acme", "amount": "2", "unit": "USD", "priority": 2}]},
    ),
    (
        "POST",
        "/v1/accounts/acme/charges",
        {"amount": "2", "unit": "USD"},
        {"amount": "2", "unit": "USD", "product": "x"},
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "changed"), WRITES)
def test_a_replay_returns_the_stored_response_and_writes_nothing(
    world: World, method: str, path: str, body: dict[str, Any], changed: dict[str, Any]
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = world.call("admin", method, path, json=body, headers=headers)
    assert first.status_code in (200, 201), first.text
    assert "idempotent-replayed" not in first.headers
    before = snapshot(world.book.engine)
    again = world.call("admin", method, path, json=body, headers=headers)
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert snapshot(world.book.engine) == before


@pytest.mark.parametrize(("method", "path", "body", "changed"), WRITES)
def test_the_same_key_with_a_different_body_is_a_409(
    world: World, method: str, path: str, body: dict[str, Any], changed: dict[str, Any]
) -> None:
    headers = {"Idempotency-Key": "k-2"}
    assert world.call("admin", method, path, json=body, headers=headers).status_code in (200, 201)
    before = snapshot(world.book.engine)
    response = world.call("admin", method, path, json=changed, headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "idempotency_conflict"
    assert world.call("admin", "POST", "/v1/accounts/acme/charges", json={"amount": "1", "unit": "USD"},
                      headers=headers).status_code == 409  # same key, another route  # fmt: skip
    assert snapshot(world.book.engine) == before


def test_keys_belong_to_one_api_key_so_two_callers_never_collide(world: World) -> None:
    body = {"amount": "1", "unit": "USD"}
    a = world.call("admin", "POST", "/v1/accounts/acme/grants", json=body, headers={"Idempotency-Key": "shared"})
    b = world.call("finance", "POST", "/v1/accounts/acme/grants", json=body, headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_failed_request_is_not_stored_and_may_be_retried(world: World) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    body = {"amount": "100", "unit": "USD"}
    assert world.call("service", "POST", "/v1/accounts/acme/charges", json=body, headers=headers).status_code == 402
    world.book.issue_grant("acme", "100", "USD")
    retried = world.call("service", "POST", "/v1/accounts/acme/charges", json=body, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


def test_an_overlong_key_is_refused(world: World) -> None:
    response = world.call("admin", "POST", "/v1/accounts/acme/grants", json={"amount": "1", "unit": "USD"},
                          headers={"Idempotency-Key": "k" * 201})  # fmt: skip
    assert response.status_code == 422


def test_stored_responses_are_kept_24_hours_then_purged(world: World, clock: FixedClock) -> None:
    world.call("admin", "POST", "/v1/accounts/acme/grants", json={"amount": "1", "unit": "USD"},
               headers={"Idempotency-Key": "old"})  # fmt: skip
    clock.advance(hours=23)
    assert world.book.purge_stored_responses(keep_seconds=60) == 0  # never less than 24 hours
    clock.advance(hours=2)
    assert world.book.purge_stored_responses() == 1
    # After the purge the ledger still knows the key: a retry returns the same grant, not a second one.
    again = world.call("admin", "POST", "/v1/accounts/acme/grants", json={"amount": "1", "unit": "USD"},
                       headers={"Idempotency-Key": "old"})  # fmt: skip
    grants = world.call("admin", "GET", "/v1/accounts/acme/grants").json()["items"]
    assert [g["id"] for g in grants].count(again.json()["id"]) == 1
    assert len(grants) == 2


def test_32_concurrent_requests_with_one_key_execute_once(world: World) -> None:
    body = {"amount": "1.25", "unit": "USD"}
    headers = {**world.auth("service"), "Idempotency-Key": "burst"}
    with LiveServer(world.app) as base, httpx.Client(base_url=base, timeout=60) as client:

        def send(_: int) -> httpx.Response:
            return client.post("/v1/accounts/acme/charges", json=body, headers=headers)

        with ThreadPoolExecutor(32) as pool:
            responses = list(pool.map(send, range(32)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in responses) == 1
    balance = world.book.balance("acme")
    assert balance.consumed_units == 5_000_000 + 1_250_000  # the seed's charge plus exactly one of these
    charges = [tx for tx in world.book.ledger("acme") if tx.kind == "charge"]
    assert len(charges) == 2
    assert world.book.verify().ok


def test_retention_is_at_least_a_day() -> None:
    from drawdown.domain import limits

    assert timedelta(seconds=limits.IDEMPOTENCY_RETENTION_SECONDS) >= timedelta(hours=24)


def test_a_replay_after_a_restart_still_returns_the_stored_response(world: World) -> None:
    from fastapi.testclient import TestClient

    from drawdown.api.app import create_app
    from drawdown.book import open_book

    headers = {**world.auth("service"), "Idempotency-Key": "across-restarts"}
    body = {"amount": "1", "unit": "USD"}
    first = world.client.post("/v1/accounts/acme/charges", json=body, headers=headers)
    url = world.book.engine.url.render_as_string(hide_password=False)
    with open_book(url, clock=world.book.deps.clock) as reopened, TestClient(create_app(reopened)) as restarted:
        again = restarted.post("/v1/accounts/acme/charges", json=body, headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content), again.text
    assert again.headers["idempotent-replayed"] == "true"
