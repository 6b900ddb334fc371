"""Bad requests, table-driven: each gets its documented 4xx problem and writes nothing.

The store is compared byte for byte (every row of every table, including API keys, stored
responses and the audit trail) before and after each request. One seeded world per store is
shared by the module: a case that wrote something would fail itself, not hide.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests import pg
from tests.api.conftest import World, build_world, hold_on, invoicing
from tests.conftest import FixedClock
from tests.integration.dump import snapshot

GRANTS = "/v1/accounts/acme/grants"
CHARGES = "/v1/accounts/acme/charges"
GRANT = {"amount": "1", "unit": "USD"}
HOLDS = "/v1/holds"
CAPTURE = "/v1/holds/{hold}/capture"
READINGS = "/v1/meters/chats/readings"
DAY = {"account": "acme", "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}
NOTES = "/v1/invoices/{invoice}/credit-notes"
USE = {"account": "acme", "feature": "chat", "quantity": "1"}
EVENT = {"key": "e", "account": "acme", "type": "chat", "time": "2026-03-01T11:00:00Z"}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    code: str
    body: Any = None
    raw: bytes | None = None
    auth: str | None = "admin"  # a role, or one of the bad-credential kinds below, or None
    headers: dict[str, str] | None = None
    params: dict[str, Any] | None = None


def grant(**changes: Any) -> dict[str, Any]:
    return {**GRANT, **changes}


def use(**changes: Any) -> dict[str, Any]:
    return {**USE, **changes}


def events(count: int, **changes: Any) -> dict[str, Any]:
    return {"events": [{**EVENT, "key": f"e{i}", **changes} for i in range(count)]}


CASES = [
    # malformed bodies
    Case("malformed JSON", "POST", GRANTS, 400, "malformed_json", raw=b'{"amount": '),
    Case("JSON with a trailing comma", "POST", GRANTS, 400, "malformed_json", raw=b'{"amount": "1",}'),
    Case("a JSON array, not an object", "POST", GRANTS, 422, "validation_error", body=[GRANT]),
    Case("a JSON string, not an object", "POST", GRANTS, 422, "validation_error", body="1 USD"),
    Case("no body at all", "POST", GRANTS, 422, "missing_field"),
    Case(
        "text/plain content",
        "POST",
        GRANTS,
        422,
        "validation_error",
        raw=json.dumps(GRANT).encode(),
        headers={"Content-Type": "text/plain"},
    ),
    # wrong types
    Case("float amount", "POST", GRANTS, 422, "float_not_allowed", body=grant(amount=1.5)),
    Case("integer amount", "POST", GRANTS, 422, "invalid_amount", body=grant(amount=5)),
    Case("float charge", "POST", CHARGES, 422, "float_not_allowed", body={"amount": 0.1, "unit": "USD"}),
    Case("float cost basis", "POST", GRANTS, 422, "float_not_allowed", body=grant(cost_basis=0.9)),
    Case(
        "float pool cap",
        "POST",
        "/v1/accounts",
        422,
        "float_not_allowed",
        body={"id": "x", "currency": "USD", "pool_caps": {"USD": {"amount": 2.5, "period": "month"}}},
    ),
    Case("priority as text", "POST", GRANTS, 422, "validation_error", body=grant(priority="1")),
    Case("priority as a float", "POST", GRANTS, 422, "validation_error", body=grant(priority=1.0)),
    Case(
        "allow_partial as text",
        "POST",
        CHARGES,
        422,
        "validation_error",
        body={"amount": "1", "unit": "USD", "allow_partial": "true"},
    ),
    Case("metadata value not text", "POST", GRANTS, 422, "validation_error", body=grant(metadata={"n": 1})),
    Case("scale as text", "POST", "/v1/units", 422, "validation_error", body={"code": "X_CREDIT", "scale": "2"}),
    # amounts and numbers out of range
    Case("negative amount", "POST", GRANTS, 422, "invalid_amount", body=grant(amount="-5")),
    Case("zero amount", "POST", GRANTS, 422, "invalid_amount", body=grant(amount="0")),
    Case("negative charge", "POST", CHARGES, 422, "invalid_amount", body={"amount": "-1", "unit": "USD"}),
    Case("huge amount", "POST", GRANTS, 422, "invalid_amount", body=grant(amount="1e30")),
    Case("amount of 70 digits", "POST", GRANTS, 422, "validation_error", body=grant(amount="9" * 70)),
    Case("too many decimals", "POST", GRANTS, 422, "invalid_amount", body=grant(amount="1.0000001")),
    Case("NaN amount", "POST", GRANTS, 422, "invalid_amount", body=grant(amount="NaN")),
    Case("infinite amount", "POST", GRANTS, 422, "invalid_amount", body=grant(amount="Infinity")),
    Case("huge priority", "POST", GRANTS, 422, "validation_error", body=grant(priority=10**30)),
    Case("negative scale", "POST", "/v1/units", 422, "validation_error", body={"code": "X_CREDIT", "scale": -1}),
    Case(
        "negative pool cap",
        "POST",
        "/v1/accounts",
        422,
        "invalid_amount",
        body={"id": "x", "currency": "USD", "pool_caps": {"USD": {"amount": "-2", "period": "month"}}},
    ),
    Case("page size 0", "GET", "/v1/accounts", 422, "validation_error", params={"limit": 0}),
    Case("page size as text", "GET", "/v1/accounts/acme/ledger", 422, "validation_error", params={"limit": "ten"}),
    Case("negative cursor", "GET", "/v1/accounts/acme/ledger", 422, "validation_error", params={"after_seq": -1}),
    # dates and time zones
    Case("expiry in words", "POST", GRANTS, 422, "naive_datetime", body=grant(expires_at="tomorrow")),
    Case("naive expiry", "POST", GRANTS, 422, "naive_datetime", body=grant(expires_at="2026-05-01T00:00:00")),
    Case("30 February", "POST", GRANTS, 422, "naive_datetime", body=grant(expires_at="2026-02-30T00:00:00Z")),
    Case(
        "expiry before start",
        "POST",
        GRANTS,
        422,
        "invalid_period",
        body=grant(effective_at="2026-05-01T00:00:00Z", expires_at="2026-04-01T00:00:00Z"),
    ),
    Case(
        "charge in the future",
        "POST",
        CHARGES,
        422,
        "invalid_period",
        body={"amount": "1", "unit": "USD", "at": "2030-01-01T00:00:00Z"},
    ),
    Case("as_of in words", "GET", "/v1/accounts/acme/balance", 422, "naive_datetime", params={"as_of": "yesterday"}),
    Case("naive as_of", "GET", "/v1/accounts/acme/grants", 422, "naive_datetime", params={"as_of": "2026-03-01"}),
    Case(
        "unknown time zone",
        "POST",
        "/v1/accounts",
        422,
        "invalid_time_zone",
        body={"id": "x", "currency": "USD", "time_zone": "Mars/Base"},
    ),
    Case(
        "path as a time zone",
        "POST",
        "/v1/accounts",
        422,
        "invalid_time_zone",
        body={"id": "x", "currency": "USD", "time_zone": "../../etc/passwd"},
    ),
    # unknown fields
    Case("unknown field", "POST", GRANTS, 422, "unknown_field", body=grant(colour="red")),
    Case(
        "unknown nested field",
        "POST",
        "/v1/accounts",
        422,
        "unknown_field",
        body={"id": "x", "currency": "USD", "pool_caps": {"USD": {"amount": "1", "period": "month", "x": 1}}},
    ),
    Case(
        "unknown field in a batch item",
        "POST",
        "/v1/grants/batch",
        422,
        "unknown_field",
        body={"grants": [{**GRANT, "account": "acme", "note": "x"}]},
    ),
    # oversized
    Case(
        "batch of 1,001 grants",
        "POST",
        "/v1/grants/batch",
        422,
        "validation_error",
        body={"grants": [{**GRANT, "account": "acme"}] * 1001},
    ),
    Case("empty batch", "POST", "/v1/grants/batch", 422, "validation_error", body={"grants": []}),
    Case("body over 1 MiB", "POST", GRANTS, 413, "request_too_large", body=grant(reason_code="x" * (1024 * 1024))),
    Case("headers over 16 KiB", "GET", "/v1/accounts", 431, "headers_too_large", headers={"X-Padding": "p" * 20_000}),
    Case(
        "idempotency key over 200 characters",
        "POST",
        GRANTS,
        422,
        "validation_error",
        body=GRANT,
        headers={"Idempotency-Key": "k" * 201},
    ),
    Case(
        "account id over 64 characters",
        "POST",
        "/v1/accounts",
        422,
        "validation_error",
        body={"id": "a" * 65, "currency": "USD"},
    ),
    # unicode and odd ids
    Case(
        "unicode account id", "POST", "/v1/accounts", 422, "invalid_identifier", body={"id": "acmé", "currency": "USD"}
    ),
    Case("emoji account id", "POST", "/v1/accounts", 422, "invalid_identifier", body={"id": "🚀", "currency": "USD"}),
    Case("unicode id in the path", "GET", "/v1/accounts/ácme", 404, "account_not_found"),
    Case("unicode id in a write path", "POST", "/v1/accounts/ácme/grants", 404, "account_not_found", body=GRANT),
    Case("emoji unit", "POST", GRANTS, 404, "unit_not_found", body=grant(unit="💰")),
    Case(
        "right-to-left override in an id",
        "POST",
        "/v1/accounts",
        422,
        "invalid_identifier",
        body={"id": "acme\u202egnp", "currency": "USD"},
    ),
    # domain rules
    Case("void without a reason", "POST", "/v1/grants/{acme_grant}/void", 422, "validation_error", body={"reason": ""}),
    Case(
        "void with a blank reason", "POST", "/v1/grants/{acme_grant}/void", 422, "invalid_field", body={"reason": " "}
    ),
    Case("unknown source", "POST", GRANTS, 422, "invalid_field", body=grant(source="gift")),
    Case(
        "account with different settings",
        "POST",
        "/v1/accounts",
        409,
        "account_already_exists",
        body={"id": "acme", "currency": "EUR"},
    ),
    Case("charge beyond credit", "POST", CHARGES, 402, "insufficient_credit", body={"amount": "1000", "unit": "USD"}),
    # credentials and roles
    Case("missing key", "POST", GRANTS, 401, "unauthenticated", body=GRANT, auth=None),
    Case("wrong scheme", "POST", GRANTS, 401, "unauthenticated", body=GRANT, auth="basic"),
    Case("malformed key", "POST", GRANTS, 401, "unauthenticated", body=GRANT, auth="malformed"),
    Case("wrong key", "POST", GRANTS, 401, "unauthenticated", body=GRANT, auth="forged"),
    Case("revoked key", "POST", GRANTS, 401, "unauthenticated", body=GRANT, auth="revoked"),
    Case("customer writing", "POST", GRANTS, 403, "forbidden", body=GRANT, auth="customer"),
    Case("service issuing credit", "POST", GRANTS, 403, "forbidden", body=GRANT, auth="service"),
    Case(
        "support over its limit", "POST", GRANTS, 403, "grant_limit_exceeded", body=grant(amount="500"), auth="support"
    ),
    Case("customer reading the audit trail", "GET", "/v1/audit", 403, "forbidden", auth="customer"),
    # usage and enforcement
    Case("float quantity to authorize", "POST", "/v1/authorize", 422, "float_not_allowed", body=use(quantity=1.5)),
    Case("float quantity to reserve", "POST", HOLDS, 422, "float_not_allowed", body=use(quantity=2.0)),
    Case("float quantity to capture", "POST", CAPTURE, 422, "float_not_allowed", body={"quantity": 0.5}),
    Case("integer quantity to reserve", "POST", HOLDS, 422, "validation_error", body=use(quantity=2)),
    Case("negative quantity to reserve", "POST", HOLDS, 422, "invalid_quantity", body=use(quantity="-1")),
    Case("negative quantity to capture", "POST", CAPTURE, 422, "invalid_quantity", body={"quantity": "-1"}),
    Case("quantity in words", "POST", "/v1/authorize", 422, "invalid_quantity", body=use(quantity="lots")),
    Case("quantity with an underscore", "POST", HOLDS, 422, "invalid_quantity", body=use(quantity="1_0")),
    Case("float quantity in an event", "POST", "/v1/events", 422, "float_not_allowed", body=events(1, quantity=1.0)),
    Case("unknown field in an event", "POST", "/v1/events", 422, "unknown_field", body=events(1, colour="red")),
    Case("unknown field in a hold", "POST", HOLDS, 422, "unknown_field", body=use(priority=1)),
    Case("batch of 10,001 events", "POST", "/v1/events", 422, "validation_error", body=events(10_001)),
    Case(
        "event batch over 16 MiB",
        "POST",
        "/v1/events",
        413,
        "request_too_large",
        body=events(9000, properties={f"p{i}": "v" * 200 for i in range(10)}),
    ),
    Case("NDJSON over 16 MiB", "POST", "/v1/events/ndjson", 413, "request_too_large", raw=b"\n" * (16 * 2**20 + 1)),
    Case("other bodies over 1 MiB", "POST", "/v1/meters", 413, "request_too_large", raw=b" " * (2**20 + 1)),
    Case("NUL in an event key", "POST", "/v1/events", 422, "validation_error", body=events(1, key="e\x00")),
    Case("empty event batch", "POST", "/v1/events", 422, "validation_error", body={"events": []}),
    Case("zero ttl", "POST", HOLDS, 422, "validation_error", body=use(ttl_seconds=0)),
    Case("ttl over a week", "POST", HOLDS, 422, "validation_error", body=use(ttl_seconds=8 * 24 * 3600)),
    Case("unknown meter", "GET", "/v1/meters/ghost/readings", 404, "meter_not_found", params=DAY),
    Case("naive reading start", "GET", READINGS, 422, "naive_datetime", params={**DAY, "start": "2026-03-01T00:00"}),
    Case("reading period of a year", "GET", READINGS, 422, "invalid_field", params={**DAY, "period": "year"}),
    Case("unicode hold id", "GET", "/v1/holds/hóld", 404, "hold_not_found"),
    Case("unicode hold id to capture", "POST", "/v1/holds/hóld/capture", 404, "hold_not_found", body={"quantity": "1"}),
    Case("emoji feature", "POST", "/v1/authorize", 422, "invalid_identifier", body=use(feature="🚀")),
    Case("unpriced feature", "POST", HOLDS, 404, "feature_not_priced", body=use(feature="video")),
    Case("reserve beyond credit", "POST", HOLDS, 402, "insufficient_credit", body=use(quantity="1000")),
    Case("reserve for a missing account", "POST", HOLDS, 404, "account_not_found", body=use(account="ghost")),
    Case(
        "float rate",
        "POST",
        "/v1/rate-cards",
        422,
        "float_not_allowed",
        body={"id": "c", "unit": "AI_CREDIT", "rates": {"chat": 0.5}},
    ),
    Case(
        "naive rate-card start",
        "POST",
        "/v1/rate-cards",
        422,
        "naive_datetime",
        body={"id": "c", "unit": "AI_CREDIT", "rates": {"chat": "1"}, "effective_at": "2026-03-01T00:00:00"},
    ),
    Case(
        "unknown enforcement mode",
        "PUT",
        "/v1/accounts/acme/enforcement",
        422,
        "invalid_field",
        body={"mode": "lenient"},
    ),
    Case("kill switch as text", "PUT", "/v1/kill-switch", 422, "validation_error", body={"engaged": "yes"}),
    Case("customer reserving", "POST", HOLDS, 403, "forbidden", body=USE, auth="customer"),
    Case("support ingesting", "POST", "/v1/events", 403, "forbidden", body=events(1), auth="support"),
    # pricing and invoicing
    Case("float credit note", "POST", NOTES, 422, "float_not_allowed", body={"amount": 5.0, "reason": "x"}),
    Case("negative credit note", "POST", NOTES, 422, "invalid_amount", body={"amount": "-5", "reason": "x"}),
    Case(
        "credit note beyond what is owed",
        "POST",
        NOTES,
        409,
        "credit_note_too_large",
        body={"amount": "100000", "reason": "x"},
    ),
    Case("credit note without a reason", "POST", NOTES, 422, "validation_error", body={"amount": "1", "reason": ""}),
    Case(
        "float unit price",
        "POST",
        "/v1/price-books",
        422,
        "float_not_allowed",
        body={"id": "pb", "unit": "USD", "prices": [{"product": "api", "model": "per_unit", "unit_price": 0.01}]},
    ),
    Case(
        "unknown field in a price",
        "POST",
        "/v1/price-books",
        422,
        "unknown_field",
        body={"id": "pb", "unit": "USD", "prices": [{"product": "api", "model": "per_unit", "currency": "USD"}]},
    ),
    Case(
        "unknown price model",
        "POST",
        "/v1/price-books",
        422,
        "invalid_field",
        body={"id": "pb", "unit": "USD", "prices": [{"product": "api", "model": "auction"}]},
    ),
    Case(
        "naive contract start",
        "POST",
        "/v1/accounts/acme/contracts",
        422,
        "naive_datetime",
        body={"effective_at": "2026-04-01T00:00:00"},
    ),
    Case(
        "float discount percent",
        "POST",
        "/v1/accounts/acme/contracts",
        422,
        "float_not_allowed",
        body={"discounts": [{"rule": "d", "percent": 10.0}]},
    ),
    Case(
        "preview of month 13",
        "GET",
        "/v1/accounts/acme/invoices/preview",
        422,
        "invalid_period",
        params={"period": "2026-13"},
    ),
    Case(
        "finalize a month not ended",
        "POST",
        "/v1/accounts/acme/invoices",
        422,
        "invalid_period",
        body={"period": "2026-04"},
    ),
    Case("unicode invoice id", "GET", "/v1/invoices/ínv", 404, "invoice_not_found"),
    Case(
        "customer voiding an invoice",
        "POST",
        "/v1/invoices/{invoice}/void",
        403,
        "forbidden",
        body={"reason": "x"},
        auth="customer",
    ),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url, fresh = f"sqlite:///{tmp_path_factory.mktemp('bad')}/api.db", None
    if request.param == "postgres":
        template = request.getfixturevalue("pg_template")
        server = pg.postgres_url()
        if server is None or template is None:
            pytest.skip("PostgreSQL runs under bin/test")
        url = fresh = pg.fresh_database(server, template=template)
    world = build_world(url, FixedClock())
    world.grants["hold"] = hold_on(invoicing(world))  # the clock moves to 2026-04-01 first
    revoked = world.book.create_key("admin")
    world.book.revoke_key(revoked.key.id)
    world.tokens["revoked"] = revoked.token
    yield world
    world.client.__exit__(None, None, None)
    world.book.close()
    if fresh:
        pg.drop_database(fresh)


def _headers(world: World, case: Case) -> dict[str, str]:
    auth = {
        None: {},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "forged": {"Authorization": f"Bearer {world.tokens['admin'][:-6]}AAAAAA"},
    }
    chosen = auth[case.auth] if case.auth in auth else world.auth(case.auth or "")
    return {**chosen, **(case.headers or {})}


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_its_problem_and_writes_nothing(shared: World, case: Case) -> None:
    before = snapshot(shared.book.engine)
    path = case.path.format(
        acme_grant=shared.grants["acme"], hold=shared.grants["hold"], invoice=shared.grants["invoice"]
    )
    kwargs: dict[str, Any] = {"params": case.params, "headers": _headers(shared, case)}
    if case.raw is not None:
        kwargs["content"] = case.raw
        kwargs["headers"] = {"Content-Type": "application/json", **kwargs["headers"]}
    elif case.body is not None:
        kwargs["json"] = case.body
    response = shared.client.request(case.method, path, **kwargs)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == case.code, body
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert snapshot(shared.book.engine) == before
