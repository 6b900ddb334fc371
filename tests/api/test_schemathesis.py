"""Schemathesis against the live OpenAPI document of a uvicorn server on 127.0.0.1.

Every operation gets generated requests, valid and invalid, with an admin key and with a
customer key. Each response must be no 5xx, have a documented status code, content type
and headers, and match its documented schema. At least 1,000 requests in total.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import LiveServer, World

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
REQUESTS_MIN = 1_000
schemathesis.serializer.alias("application/x-ndjson", "text/plain")  # NDJSON ingest: the body is text
PASSES = [  # (key, generation mode, examples per operation)
    ("admin", GenerationMode.POSITIVE, 45),
    ("admin", GenerationMode.NEGATIVE, 25),
    ("customer", GenerationMode.POSITIVE, 12),
]


def test_generated_requests_get_no_5xx_and_only_documented_responses(sqlite_world: World) -> None:
    sent: dict[str, int] = {}
    with LiveServer(sqlite_world.app) as base:
        document = httpx.get(f"{base}/openapi.json").json()
        schema = schemathesis.openapi.from_dict(document)
        for role, mode, examples in PASSES:
            headers = sqlite_world.auth(role)
            for result in schema.get_all_operations():
                operation = result.ok()
                try:
                    _fuzz(operation, mode, examples, base, headers, sent)
                except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                    assert mode is GenerationMode.NEGATIVE, operation.label
    total = sum(sent.values())
    print(f"schemathesis: {total} requests over {len(sent)} operations")
    assert total >= REQUESTS_MIN, sent
    assert len(sent) == sum(len(ops) for ops in document["paths"].values())


def _fuzz(operation: Any, mode: GenerationMode, examples: int, base: str, headers: dict[str, str],
          sent: dict[str, int]) -> None:  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers=headers)
        case.validate_response(response, checks=CHECKS)
        sent[operation.label] = sent.get(operation.label, 0) + 1

    check()
