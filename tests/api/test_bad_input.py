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
from tests.api.conftest import World, build_world
from tests.conftest import FixedClock
from tests.integration.dump import snapshot

GRANTS = "/v1/accounts/acme/grants"
CHARGES = "/v1/accounts/acme/charges"
GRANT = {"amount": "1", "unit": "USD"}


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
    path = case.path.format(acme_grant=shared.grants["acme"])
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
