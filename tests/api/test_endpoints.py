"""Every endpoint through the real app: its success response and each documented error."""

from __future__ import annotations

import pytest

from tests.api.conftest import World
from tests.conftest import START


def problem_of(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    assert body["request_id"]
    return body


def test_health_needs_no_key_and_says_ok(world: World) -> None:
    response = world.call(None, "GET", "/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_units_are_defined_and_read_back(world: World) -> None:
    created = world.call("admin", "POST", "/v1/units", json={"code": "GPU_HOUR", "scale": 2})
    assert created.status_code == 201
    assert created.json() == {"code": "GPU_HOUR", "kind": "credit", "scale": 2, "minor_digits": 2}
    assert world.call("customer", "GET", "/v1/units/GPU_HOUR").json()["scale"] == 2
    assert world.call("customer", "GET", "/v1/units/USD").json()["scale"] == 6
    problem_of(world.call("admin", "GET", "/v1/units/NOPE_X"), 404, "unit_not_found")
    problem_of(world.call("admin", "POST", "/v1/units", json={"code": "GPU_HOUR", "scale": 3}), 409,
               "unit_already_exists")  # fmt: skip
    problem_of(world.call("admin", "POST", "/v1/units", json={"code": "usd", "scale": 3}), 422, "invalid_unit")


def test_accounts_are_created_read_and_listed_a_page_at_a_time(world: World) -> None:
    body = {"id": "initech", "currency": "USD", "time_zone": "America/Chicago", "metadata": {"tier": "pro"},
            "pool_caps": {"USD": {"amount": "10", "period": "month"}}}  # fmt: skip
    created = world.call("finance", "POST", "/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["pool_caps"] == {"USD": {"amount": "10.000000", "period": "month"}}
    assert world.call("admin", "GET", "/v1/accounts/initech").json()["time_zone"] == "America/Chicago"
    ids, cursor = [], None
    while True:
        page = world.call("admin", "GET", "/v1/accounts", params={"limit": 2, **({"after": cursor} if cursor else {})})
        ids += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert ids == sorted(["acme", "acme-team", "globex", "initech", "umbrella", "umbrella-ml"])
    children = world.call("admin", "GET", "/v1/accounts", params={"parent": "umbrella"}).json()["items"]
    assert [a["id"] for a in children] == ["umbrella-ml"]
    problem_of(world.call("admin", "GET", "/v1/accounts/nobody"), 404, "account_not_found")
    problem_of(world.call("admin", "POST", "/v1/accounts", json={**body, "currency": "EUR"}), 409,
               "account_already_exists")  # fmt: skip
    problem_of(world.call("admin", "POST", "/v1/accounts", json={"id": "x", "currency": "USD", "parent": "ghost"}),
               404, "account_not_found")  # fmt: skip
    problem_of(world.call("admin", "POST", "/v1/accounts", json={"id": "x", "currency": "USD", "time_zone": "Mars/X"}),
               422, "invalid_time_zone")  # fmt: skip


def test_grants_are_issued_listed_read_and_voided(world: World) -> None:
    body = {"amount": "25.50", "unit": "USD", "source": "support", "reason_code": "goodwill",
            "expires_at": "2026-06-01T00:00:00Z", "scope": "category:usage"}  # fmt: skip
    issued = world.call("finance", "POST", "/v1/accounts/acme/grants", json=body)
    assert issued.status_code == 201, issued.text
    grant = issued.json()
    assert (grant["amount"], grant["status"], grant["scope"]) == ("25.500000", "active", "category:usage")
    listed = world.call("support", "GET", "/v1/accounts/acme/grants").json()["items"]
    assert grant["id"] in [g["id"] for g in listed]
    assert world.call("admin", "GET", f"/v1/grants/{grant['id']}").json() == grant
    voided = world.call("finance", "POST", f"/v1/grants/{grant['id']}/void", json={"reason": "duplicate"})
    assert voided.status_code == 200, voided.text
    assert voided.json()["voided"] == "25.500000"
    assert world.call("admin", "GET", f"/v1/grants/{grant['id']}").json()["status"] == "voided"
    problem_of(world.call("finance", "POST", f"/v1/grants/{grant['id']}/void", json={"reason": "again"}), 409,
               "grant_already_voided")  # fmt: skip
    problem_of(world.call("admin", "GET", "/v1/grants/gr_nope"), 404, "grant_not_found")
    problem_of(world.call("admin", "POST", "/v1/grants/gr_nope/void", json={"reason": "x"}), 404, "grant_not_found")
    problem_of(world.call("admin", "POST", "/v1/accounts/ghost/grants", json=body), 404, "account_not_found")
    problem_of(world.call("admin", "POST", "/v1/accounts/acme/grants", json={**body, "unit": "EUR"}), 422,
               "unit_mismatch")  # fmt: skip


def test_grants_as_of_an_instant_show_what_existed_then(world: World) -> None:
    before = world.call("admin", "GET", "/v1/accounts/acme/grants", params={"as_of": "2026-02-01T00:00:00Z"})
    assert before.status_code == 200
    assert before.json()["items"] == []
    now = world.call("admin", "GET", "/v1/accounts/acme/grants", params={"as_of": START.isoformat()})
    assert len(now.json()["items"]) == 1
    problem_of(world.call("admin", "GET", f"/v1/grants/{world.grants['acme']}", params={"as_of": "2026-02-01T00:00Z"}),
               404, "grant_not_found")  # fmt: skip


def test_support_keys_issue_grants_up_to_their_limit(world: World) -> None:
    ok = world.call("support", "POST", "/v1/accounts/acme/grants", json={"amount": "100", "unit": "USD"})
    assert ok.status_code == 201
    over = world.call("support", "POST", "/v1/accounts/acme/grants", json={"amount": "100.01", "unit": "USD"})
    body = problem_of(over, 403, "grant_limit_exceeded")
    assert body["field"] == "amount"
    batch = {"grants": [{"account": "acme", "amount": "1", "unit": "USD"},
                        {"account": "acme", "amount": "101", "unit": "USD"}]}  # fmt: skip
    problem_of(world.call("support", "POST", "/v1/grants/batch", json=batch), 403, "grant_limit_exceeded")
    assert world.call("finance", "POST", "/v1/grants/batch", json=batch).status_code == 201
    own = world.book.create_key("support", grant_limit="5")
    headers = {"Authorization": f"Bearer {own.token}"}
    problem_of(world.client.post("/v1/accounts/acme/grants", json={"amount": "6", "unit": "USD"}, headers=headers),
               403, "grant_limit_exceeded")  # fmt: skip


def test_a_grant_batch_is_all_or_nothing(world: World) -> None:
    batch = {"grants": [{"account": "acme", "amount": "1", "unit": "USD"},
                        {"account": "ghost", "amount": "1", "unit": "USD"}]}  # fmt: skip
    before = world.call("admin", "GET", "/v1/accounts/acme/grants").json()["items"]
    problem_of(world.call("admin", "POST", "/v1/grants/batch", json=batch), 404, "account_not_found")
    assert world.call("admin", "GET", "/v1/accounts/acme/grants").json()["items"] == before
    good = {"grants": [{"account": "acme", "amount": "1", "unit": "USD"}] * 3}
    response = world.call("admin", "POST", "/v1/grants/batch", json=good)
    assert response.status_code == 201
    assert len({g["id"] for g in response.json()["items"]}) == 3


def test_balances_now_and_as_of_an_instant(world: World) -> None:
    now = world.call("service", "GET", "/v1/accounts/acme/balance").json()
    assert (now["available"], now["consumed"], now["issued"]) == ("45.000000", "5.000000", "50.000000")
    then = world.call("customer", "GET", "/v1/accounts/acme/balance", params={"as_of": "2026-02-15T00:00:00+01:00"})
    assert then.json()["issued"] == "0.000000"
    assert world.call("admin", "GET", "/v1/accounts/globex/balance").json()["unit"] == "EUR"
    pooled = world.call("admin", "GET", "/v1/accounts/umbrella-ml/balance").json()
    assert pooled["pooled_available"] == "500.000000"
    problem_of(world.call("admin", "GET", "/v1/accounts/ghost/balance"), 404, "account_not_found")
    problem_of(world.call("admin", "GET", "/v1/accounts/acme/balance", params={"as_of": "2026-02-15T00:00:00"}),
               422, "naive_datetime")  # fmt: skip
    problem_of(world.call("admin", "GET", "/v1/accounts/acme/balance", params={"unit": "NOPE_X"}), 404,
               "unit_not_found")  # fmt: skip


def test_ledger_history_pages_by_sequence(world: World) -> None:
    first = world.call("admin", "GET", "/v1/accounts/acme/ledger", params={"limit": 1}).json()
    assert [tx["kind"] for tx in first["items"]] == ["grant_issued"]
    second = world.call("admin", "GET", "/v1/accounts/acme/ledger",
                        params={"limit": 1, "after_seq": first["next_cursor"]}).json()  # fmt: skip
    assert [tx["kind"] for tx in second["items"]] == ["charge"]
    assert sum(int(p["amount"].replace(".", "")) for p in second["items"][0]["postings"]) == 0
    rest = world.call("admin", "GET", "/v1/accounts/acme/ledger", params={"after_seq": second["next_cursor"]})
    assert rest.json() == {"items": [], "next_cursor": None}
    problem_of(world.call("admin", "GET", "/v1/accounts/ghost/ledger"), 404, "account_not_found")
    problem_of(world.call("admin", "GET", "/v1/accounts/acme/ledger", params={"limit": 0}), 422, "validation_error")


def test_charges_draw_credit_and_refuse_what_is_not_there(world: World) -> None:
    response = world.call("service", "POST", "/v1/accounts/acme/charges", json={"amount": "10", "unit": "USD"})
    assert response.status_code == 201, response.text
    assert response.json()["draws"] == [{"grant_id": world.grants["acme"], "amount": "10.000000", "position": 1}]
    short = world.call("service", "POST", "/v1/accounts/acme/charges", json={"amount": "1000", "unit": "USD"})
    body = problem_of(short, 402, "insufficient_credit")
    assert body["available"] == "35.000000"
    partial = world.call("service", "POST", "/v1/accounts/acme/charges",
                         json={"amount": "1000", "unit": "USD", "allow_partial": True})  # fmt: skip
    assert partial.json()["shortfall"] == "965.000000"
    problem_of(world.call("service", "POST", "/v1/accounts/ghost/charges", json={"amount": "1", "unit": "USD"}), 404,
               "account_not_found")  # fmt: skip


def test_verify_reports_an_intact_chain(world: World) -> None:
    body = world.call("finance", "GET", "/v1/verify").json()
    assert body["ok"] is True
    assert body["transactions"] == body["head_seq"] == 5
    assert body["first_break"] is None


def test_the_audit_trail_records_every_write_with_actor_request_reason_and_transactions(world: World) -> None:
    response = world.call("finance", "POST", "/v1/accounts/acme/grants", json={"amount": "3", "unit": "USD",
                          "reason_code": "sla-breach"}, headers={"X-Request-Id": "req-audit-1"})  # fmt: skip
    assert response.status_code == 201
    records = world.call("admin", "GET", "/v1/audit", params={"account": "acme"}).json()["items"]
    last = records[-1]
    assert (last["key_id"], last["role"], last["request_id"]) == (world.key_ids["finance"], "finance", "req-audit-1")
    assert (last["operation"], last["reason"], last["account"]) == ("issue_grant", "sla-breach", "acme")
    ledger = world.call("admin", "GET", "/v1/accounts/acme/ledger").json()["items"]
    assert last["transaction_ids"] == [ledger[-1]["id"]]
    failed = world.call("finance", "POST", "/v1/accounts/acme/grants", json={"amount": "-3", "unit": "USD"})
    assert failed.status_code == 422
    assert world.call("admin", "GET", "/v1/audit", params={"account": "acme"}).json()["items"] == records
    page = world.call("finance", "GET", "/v1/audit", params={"limit": 1}).json()
    assert len(page["items"]) == 1
    assert page["next_cursor"] == page["items"][0]["id"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nowhere"), ("GET", "/v2/health"), ("GET", "/")])
def test_unknown_routes_are_404_problems(world: World, method: str, path: str) -> None:
    problem_of(world.call(None, method, path), 404, "route_not_found")


def test_wrong_methods_are_405_problems(world: World) -> None:
    problem_of(world.call("admin", "DELETE", "/v1/accounts/acme"), 405, "method_not_allowed")
    problem_of(world.call("admin", "PUT", "/v1/health"), 405, "method_not_allowed")


def test_unexpected_failures_are_500_problems_without_a_stack_trace(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def explode() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 7")

    monkeypatch.setattr(world.book, "verify", explode)
    response = world.call("admin", "GET", "/v1/verify", headers={"X-Request-Id": "req-boom"})
    body = problem_of(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == "req-boom"


def test_request_ids_are_echoed_or_made_up(world: World) -> None:
    assert (
        world.call(None, "GET", "/v1/health", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    )
    made = world.call(None, "GET", "/v1/health", headers={"X-Request-Id": "bad id with spaces"}).headers["x-request-id"]
    assert made.startswith("req_")


def test_metrics_count_requests_by_route_and_ledger_writes(world: World) -> None:
    world.call("service", "POST", "/v1/accounts/acme/charges", json={"amount": "1", "unit": "USD"})
    world.call("admin", "GET", "/v1/accounts/acme")
    text = world.call(None, "GET", "/metrics").text
    assert 'drawdown_ledger_transactions_written_total{operation="charge"} 1.0' in text
    assert 'route="/v1/accounts/{account_id}",status="200"' in text
