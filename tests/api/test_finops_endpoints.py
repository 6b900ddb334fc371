"""The FinOps endpoints through the real app, on SQLite and PostgreSQL: the hierarchy and its
mapping rules, the detected credits (queue, then Amount / Used / Remaining / status once
allocated), allocation, net cost per node and period, and credits expiring soon.

The data is set up through the Book as ``tests/finops`` does: a copy of the real FOCUS sample
with SYNTHETIC rows (100 USD of spend mapped to ``prod`` and two detected credits).
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import World, finops
from tests.integration.dump import snapshot

ALLOCATE = {"node": "dept", "amount": "60", "end_date": "2026-12-31", "reason": "MAP tranche 1", "reference": "MAP-1"}


def _credit(world: World, credit_id: str) -> dict[str, Any]:
    items = world.call("support", "GET", "/v1/finops/credits").json()["items"]
    return next(c for c in items if c["id"] == credit_id)


def test_nodes_are_added_and_listed(world: World) -> None:
    created = world.call("finance", "POST", "/v1/finops/nodes",
                         json={"id": "ops", "level": "business_unit", "name": "Operations"})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json() == {"id": "ops", "level": "business_unit", "name": "Operations", "parent": None,
                              "currency": "USD"}  # fmt: skip
    child = {"id": "ops-sre", "level": "department", "name": "SRE", "parent": "ops"}
    assert world.call("admin", "POST", "/v1/finops/nodes", json=child).status_code == 201
    assert world.call("admin", "POST", "/v1/finops/nodes", json=child).status_code == 201  # the same again
    listed = world.call("support", "GET", "/v1/finops/nodes")
    assert listed.status_code == 200, listed.text
    assert [(n["id"], n["parent"]) for n in listed.json()["items"]] == [("ops", None), ("ops-sre", "ops")]
    skipping = world.call("admin", "POST", "/v1/finops/nodes",
                          json={"id": "x", "level": "product", "name": "X", "parent": "ops"})  # fmt: skip
    assert (skipping.status_code, skipping.json()["field"]) == (422, "parent")


def test_rules_are_added_in_the_order_they_are_tried(world: World) -> None:
    finops(world)
    rule = {"id": "r0", "kind": "tag", "key": "team", "value": "checkout", "node": "port", "priority": 5}
    created = world.call("finance", "POST", "/v1/finops/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json() == {"id": "r0", "priority": 5, "kind": "tag", "key": "team", "value": "checkout",
                              "node": "port"}  # fmt: skip
    assert world.call("finance", "POST", "/v1/finops/rules", json=rule).status_code == 201  # the same again
    clash = world.call("finance", "POST", "/v1/finops/rules", json={**rule, "node": "dept"})
    assert (clash.status_code, clash.json()["code"]) == (409, "finops_rule_already_exists")
    assert [r["id"] for r in world.call("support", "GET", "/v1/finops/rules").json()["items"]] == ["r0", "r1"]
    keyless = world.call("finance", "POST", "/v1/finops/rules", json={**rule, "id": "r9", "key": ""})
    assert (keyless.status_code, keyless.json()["field"]) == (422, "key")


def test_allocating_a_queued_credit_covers_the_spend_and_shows_its_figures(world: World) -> None:
    credit_id = finops(world).grants["credit-older"]
    queued = _credit(world, credit_id)
    assert (queued["queue_status"], queued["status"], queued["amount"], queued["period"]) == (
        "unallocated", None, "0.000000", "2024-08",
    )  # fmt: skip
    response = world.call("finance", "POST", f"/v1/finops/credits/{credit_id}/allocate", json=ALLOCATE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["queue_status"], body["node"], body["end_date"], body["reference"]) == (
        "allocated", "dept", "2026-12-31", "MAP-1",
    )  # fmt: skip
    figures = (body["amount"], body["used"], body["remaining"], body["status"])
    assert figures == ("60.000000", "60.000000", "0.000000", "exhausted")
    assert _credit(world, credit_id) == body
    report = world.call("support", "GET", "/v1/finops/report")
    assert report.status_code == 200, report.text
    rows = {(r["node"], r["period"]): r for r in report.json()["items"]}
    assert {k: rows[("prod", "2024-09")][k] for k in ("spend", "credits", "net")} == {
        "spend": "100.000000", "credits": "60.000000", "net": "40.000000",
    }  # fmt: skip
    assert rows[("bu", "2024-09")]["level"] == "business_unit"
    assert rows[("bu", "2024-09")]["net"] == "40.000000"  # rolled up from prod


def test_a_credit_ending_within_30_days_is_listed_as_expiring(world: World) -> None:
    credit_id = finops(world).grants["credit-newer"]
    assert world.call("admin", "GET", "/v1/finops/expiring").json() == {"items": []}
    soon = {**ALLOCATE, "amount": "500", "end_date": "2026-03-20"}  # the clock reads 2026-03-01
    assert world.call("admin", "POST", f"/v1/finops/credits/{credit_id}/allocate", json=soon).status_code == 200
    response = world.call("support", "GET", "/v1/finops/expiring")
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (item["credit"]["id"], item["credit"]["status"], item["credit"]["remaining"]) == (
        credit_id, "expiring", "400.000000",
    )  # fmt: skip
    assert item["expires_at"] == "2026-03-21T00:00:00+00:00"  # the end of end_date, exclusive
    assert item["needed_per_day"] != "0.000000"
    assert item["recent_per_day"] == "3.333334"  # 100 USD of spend over September's 30 days, rounded up


def test_allocation_errors_are_documented_problems_and_write_nothing(world: World) -> None:
    credit_id = finops(world).grants["credit-older"]
    before = snapshot(world.book.engine)
    path = f"/v1/finops/credits/{credit_id}/allocate"
    unknown = world.call("admin", "POST", "/v1/finops/credits/cc_ghost/allocate", json=ALLOCATE)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "cloud_credit_not_found")
    no_node = world.call("admin", "POST", path, json={**ALLOCATE, "node": "ghost"})
    assert (no_node.status_code, no_node.json()["code"]) == (404, "finops_node_not_found")
    for amount in ("-5", "abc", "0.0000001"):
        bad = world.call("admin", "POST", path, json={**ALLOCATE, "amount": amount})
        assert (bad.status_code, bad.json()["field"]) == (422, "amount"), bad.text
    floated = world.call("admin", "POST", path, json={**ALLOCATE, "amount": 60.5})
    assert (floated.status_code, floated.json()["code"]) == (422, "float_not_allowed")
    bad_date = world.call("admin", "POST", path, json={**ALLOCATE, "end_date": "2026-13-01"})
    assert (bad_date.status_code, bad_date.json()["field"]) == (422, "end_date")
    no_reason = world.call("admin", "POST", path, json={**ALLOCATE, "reason": ""})
    assert no_reason.status_code == 422
    assert snapshot(world.book.engine) == before


def test_service_and_customer_keys_may_not_read_finops(world: World) -> None:
    finops(world)
    for role in ("service", "customer"):
        response = world.call(role, "GET", "/v1/finops/credits")
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
