"""The usage and enforcement endpoints through the real app, on SQLite and PostgreSQL:
ingest, meters, authorize, holds (reserve → capture / release / expiry), rate cards,
account enforcement and the kill switch — success and each domain error they document."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import World, hold_on, metering
from tests.conftest import FixedClock
from tests.integration.dump import snapshot

AT = "2026-03-01T11:00:00Z"


def event(key: str, **changes: Any) -> dict[str, Any]:
    return {"key": key, "account": "acme", "type": "chat", "time": AT, "quantity": "2", **changes}


def test_ingest_answers_each_event_accepted_duplicate_or_rejected(world: World) -> None:
    metering(world)
    events = [
        event("e1"),
        event("e1"),  # a repeat in the same batch
        event("e2", account="ghost"),
        event("e3", type="no-such-type"),
        event("e4", time="2020-01-01T00:00:00Z"),
    ]
    response = world.call("service", "POST", "/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 1, 3)
    statuses = [(r["index"], r["status"], r["code"]) for r in body["results"]]
    assert statuses[0] == (0, "accepted", None)
    assert statuses[1][1] == "duplicate"
    assert statuses[2:] == [
        (2, "rejected", "account_not_found"), (3, "rejected", "meter_not_found"), (4, "rejected", "event_too_late"),
    ]  # fmt: skip
    assert all(r["message"] for r in body["results"][2:])
    again = world.call("service", "POST", "/v1/events", json={"events": [event("e1")]})
    assert again.json()["results"][0]["status"] == "duplicate"


def test_ndjson_ingest_answers_by_line_and_replays_with_its_idempotency_key(world: World) -> None:
    metering(world)
    lines = [json.dumps(event("n1")), "", json.dumps(event("n2", quantity=1.5)), "{not json", json.dumps(event("n1"))]
    data = ("\n".join(lines) + "\n").encode()
    headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": "nd-1"}
    response = world.call("service", "POST", "/v1/events/ndjson", content=data, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["index"], r["status"], r["code"]) for r in body["results"]] == [
        (0, "accepted", None), (2, "rejected", "float_not_allowed"), (3, "rejected", "invalid_json"),
        (4, "duplicate", None),
    ]  # fmt: skip
    replay = world.call("service", "POST", "/v1/events/ndjson", content=data, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == body
    other = world.call("service", "POST", "/v1/events/ndjson", content=data + b"\n", headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    customer = world.call("customer", "POST", "/v1/events/ndjson", content=data)
    assert customer.status_code == 403


def test_an_ndjson_line_with_a_list_for_an_id_is_rejected_alone(world: World) -> None:
    metering(world)
    bad = {**event("x1"), "account": ["acme"]}
    data = (json.dumps(event("ok1")) + "\n" + json.dumps(bad) + "\n").encode()
    response = world.call("service", "POST", "/v1/events/ndjson", content=data,
                          headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert [(r["status"], r["code"]) for r in response.json()["results"]] == [
        ("accepted", None), ("rejected", "invalid_identifier"),
    ]  # fmt: skip


def test_an_ndjson_line_that_is_not_utf8_is_rejected_alone(world: World) -> None:
    metering(world)
    bad = json.dumps(event("x\u00ff1")).encode().replace(b"\\u00ff", b"\xff")  # a raw byte that is not UTF-8
    data = json.dumps(event("ok1")).encode() + b"\n" + bad + b"\n"
    response = world.call("service", "POST", "/v1/events/ndjson", content=data,
                          headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert [(r["index"], r["status"], r["code"]) for r in response.json()["results"]] == [
        (0, "accepted", None), (1, "rejected", "invalid_json"),
    ]  # fmt: skip


def test_a_malformed_event_refuses_the_whole_batch_and_writes_nothing(world: World) -> None:
    metering(world)
    before = snapshot(world.book.engine)
    response = world.call("service", "POST", "/v1/events", json={"events": [event("ok"), event("f", quantity=1.5)]})
    assert response.status_code == 422
    assert response.json()["code"] == "float_not_allowed"
    assert snapshot(world.book.engine) == before


def test_meter_readings_sum_the_accepted_events_per_day(world: World) -> None:
    metering(world)
    world.call("service", "POST", "/v1/events", json={"events": [event("a"), event("b", quantity="3.5")]})
    params = {"account": "acme", "start": "2026-03-01T00:00:00-05:00", "end": "2026-03-02T00:00:00-05:00"}
    response = world.call("customer", "GET", "/v1/meters/chats/readings", params={**params, "period": "day"})
    assert response.status_code == 200, response.text
    assert [r["value"] for r in response.json()["items"]] == ["5.5"]
    hidden = world.call("customer", "GET", "/v1/meters/chats/readings", params={**params, "account": "globex"})
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "account_not_found"
    missing = world.call("admin", "GET", "/v1/meters/ghost/readings", params=params)
    assert missing.json()["code"] == "meter_not_found"


def test_defining_a_meter_twice_differently_is_a_409(world: World) -> None:
    body = {"id": "tokens", "event_type": "chat", "aggregation": "sum", "property": "tokens"}
    first = world.call("admin", "POST", "/v1/meters", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["property"] == "tokens"
    assert world.call("admin", "POST", "/v1/meters", json=body).status_code == 201
    clash = world.call("admin", "POST", "/v1/meters", json={**body, "aggregation": "max"})
    assert (clash.status_code, clash.json()["code"]) == (409, "meter_already_exists")


def test_authorize_allows_denies_and_writes_nothing(world: World) -> None:
    metering(world)
    before = snapshot(world.book.engine)
    ok = world.call("service", "POST", "/v1/authorize", json={"account": "acme", "feature": "chat", "quantity": "3"})
    assert ok.status_code == 200, ok.text
    assert ok.json() | {"balance": None} == ok.json() | {
        "allowed": True, "reason": "covered", "mode": "enforce", "unit": "AI_CREDIT", "cost": "6.000",
        "covered": "6.000", "overdraft_headroom": "0.000", "balance": None,
    }  # fmt: skip
    assert ok.json()["balance"]["available"] == "100.000"
    no = world.call("service", "POST", "/v1/authorize", json={"account": "acme", "feature": "chat", "quantity": "51"})
    assert no.json()["allowed"] is False
    assert snapshot(world.book.engine) == before
    unpriced = world.call("service", "POST", "/v1/authorize", json={"account": "acme", "feature": "video"})
    assert (unpriced.status_code, unpriced.json()["code"]) == (404, "feature_not_priced")


def test_reserve_then_capture_burns_what_is_used_and_returns_the_rest(world: World) -> None:
    metering(world)
    held = world.call("service", "POST", "/v1/holds", json={"account": "acme", "feature": "chat", "quantity": "5"})
    assert held.status_code == 201, held.text
    hold = held.json()
    assert (hold["status"], hold["amount"], hold["unit"]) == ("open", "10.000", "AI_CREDIT")
    balance = world.call("service", "GET", "/v1/accounts/acme/balance", params={"unit": "AI_CREDIT"}).json()
    assert (balance["available"], balance["reserved"]) == ("90.000", "10.000")
    captured = world.call("service", "POST", f"/v1/holds/{hold['id']}/capture", json={"quantity": "2"})
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["captured"], captured.json()["released"]) == (
        "captured", "4.000", "6.000",
    )  # fmt: skip
    again = world.call("service", "POST", f"/v1/holds/{hold['id']}/capture", json={"quantity": "2"})
    assert (again.status_code, again.json()["code"]) == (409, "hold_already_captured")
    release = world.call("service", "POST", f"/v1/holds/{hold['id']}/release", json={})
    assert (release.status_code, release.json()["code"]) == (409, "hold_already_captured")
    assert world.call("admin", "GET", f"/v1/holds/{hold['id']}").json() == captured.json()


def test_release_returns_everything_and_a_second_release_is_a_409(world: World) -> None:
    hold_id = hold_on(world, quantity="4")
    released = world.call("service", "POST", f"/v1/holds/{hold_id}/release")
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["released"]) == ("released", "8.000")
    again = world.call("service", "POST", f"/v1/holds/{hold_id}/release", json={})
    assert (again.status_code, again.json()["code"]) == (409, "hold_already_released")


def test_capturing_an_expired_hold_is_a_409(world: World, clock: FixedClock) -> None:
    metering(world)
    body = {"account": "acme", "feature": "chat", "ttl_seconds": 60}
    hold_id = world.call("service", "POST", "/v1/holds", json=body).json()["id"]
    clock.advance(seconds=61)
    response = world.call("service", "POST", f"/v1/holds/{hold_id}/capture", json={"quantity": "1"})
    assert (response.status_code, response.json()["code"]) == (409, "hold_expired")


def test_reserving_beyond_credit_is_a_402_and_writes_nothing(world: World) -> None:
    metering(world)
    before = snapshot(world.book.engine)
    body = {"account": "acme", "feature": "chat", "quantity": "51"}
    response = world.call("service", "POST", "/v1/holds", json=body)
    assert (response.status_code, response.json()["code"]) == (402, "insufficient_credit")
    assert snapshot(world.book.engine) == before


def test_the_kill_switch_denies_authorizations_and_refuses_reserves_with_409(world: World) -> None:
    metering(world)
    on = world.call("finance", "PUT", "/v1/kill-switch", json={"engaged": True})
    assert on.json() == {"engaged": True}
    body = {"account": "acme", "feature": "chat"}
    decision = world.call("service", "POST", "/v1/authorize", json=body).json()
    assert (decision["allowed"], decision["reason"]) == (False, "kill_switch")
    refused = world.call("service", "POST", "/v1/holds", json=body)
    assert (refused.status_code, refused.json()["code"]) == (409, "kill_switch_engaged")
    world.call("finance", "PUT", "/v1/kill-switch", json={"engaged": False})
    assert world.call("service", "POST", "/v1/holds", json=body).status_code == 201


def test_rate_cards_version_and_an_account_can_be_pinned_with_an_overdraft(world: World) -> None:
    body = {"id": "pro", "unit": "AI_CREDIT", "rates": {"chat": "1.5"}}
    first = world.call("finance", "POST", "/v1/rate-cards", json=body)
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["rates"]) == (1, {"chat": "1.5"})
    assert world.call("finance", "POST", "/v1/rate-cards", json=body).json()["version"] == 2
    settings = {"rate_card": "pro", "mode": "enforce", "overdraft_limits": {"AI_CREDIT": "3"}}
    pinned = world.call("finance", "PUT", "/v1/accounts/globex/enforcement", json=settings)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json() == {"account": "globex", "mode": "enforce", "overdraft_limits": {"AI_CREDIT": "3.000"},
                             "rate_card": "pro", "rate_card_version": None}  # fmt: skip
    decision = world.call("service", "POST", "/v1/authorize", json={"account": "globex", "feature": "chat"}).json()
    assert (decision["allowed"], decision["cost"], decision["overdraft_headroom"]) == (True, "1.500", "3.000")
    ghost = world.call("finance", "PUT", "/v1/accounts/globex/enforcement", json={"rate_card": "ghost"})
    assert (ghost.status_code, ghost.json()["code"]) == (404, "rate_card_not_found")
    bad = world.call("finance", "PUT", "/v1/accounts/globex/enforcement", json={"mode": "lenient"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_field")
    money = world.call("finance", "POST", "/v1/rate-cards", json={**body, "unit": "USD"})
    assert money.status_code == 422


def test_a_customer_key_sees_its_own_holds_and_others_as_missing(world: World) -> None:
    own, other = hold_on(world, "acme"), hold_on(world, "umbrella-ml")
    assert world.call("customer", "GET", f"/v1/holds/{own}").status_code == 200
    fenced = world.call("customer", "GET", f"/v1/holds/{other}")
    absent = world.call("customer", "GET", "/v1/holds/hd_" + "Z" * 26)
    assert fenced.status_code == absent.status_code == 404
    assert fenced.json()["code"] == absent.json()["code"] == "hold_not_found"
    assert fenced.json()["detail"].replace(other, "ID") == absent.json()["detail"].replace("hd_" + "Z" * 26, "ID")
    assert world.call("customer-ml", "GET", f"/v1/holds/{own}").status_code == 404


def test_reserve_and_capture_replay_with_the_same_idempotency_key(world: World) -> None:
    metering(world)
    key = {"Idempotency-Key": "r-1"}
    body = {"account": "acme", "feature": "chat", "quantity": "2"}
    first = world.call("service", "POST", "/v1/holds", json=body, headers=key)
    before = snapshot(world.book.engine)
    again = world.call("service", "POST", "/v1/holds", json=body, headers=key)
    assert (again.content, again.headers["idempotent-replayed"]) == (first.content, "true")
    assert snapshot(world.book.engine) == before
    other = world.call("service", "POST", "/v1/holds", json={**body, "quantity": "3"}, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    path = f"/v1/holds/{first.json()['id']}/capture"
    captured = world.call("service", "POST", path, json={"quantity": "1"}, headers={"Idempotency-Key": "c-1"})
    before = snapshot(world.book.engine)
    replay = world.call("service", "POST", path, json={"quantity": "1"}, headers={"Idempotency-Key": "c-1"})
    assert (replay.status_code, replay.content) == (200, captured.content)
    assert replay.headers["idempotent-replayed"] == "true"
    assert snapshot(world.book.engine) == before


def test_enforcement_writes_are_audited_with_their_transactions(world: World) -> None:
    hold_id = world.call("service", "POST", "/v1/holds", json={"account": metering(world) and "acme",
                                                                "feature": "chat"}).json()["id"]  # fmt: skip
    world.call("service", "POST", f"/v1/holds/{hold_id}/capture", json={"quantity": "1"})
    audit = world.call("admin", "GET", "/v1/audit", params={"account": "acme"}).json()["items"]
    operations = [(a["operation"], a["role"], len(a["transaction_ids"])) for a in audit[-2:]]
    assert operations == [("reserve", "service", 1), ("capture", "service", 1)]
