"""Operations: one structured log line per request, JSON formatting, settings from env and flags."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from drawdown.api.observability import JsonFormatter
from drawdown.bootstrap import ServerSettings
from tests.api.conftest import World


def test_each_request_logs_its_id_route_status_and_key(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="drawdown.api"):
        world.call("finance", "GET", "/v1/accounts/acme", headers={"X-Request-Id": "req-log-1"})
    [record] = [r for r in caplog.records if r.getMessage() == "request"]
    fields = json.loads(JsonFormatter().format(record))
    assert fields["request_id"] == "req-log-1"
    assert fields["route"] == "/v1/accounts/{account_id}"
    assert fields["status"] == 200
    assert fields["key_id"] == world.key_ids["finance"]
    assert fields["level"] == "info"


def test_settings_come_from_flags_then_environment_then_defaults() -> None:
    env = {"DRAWDOWN_DB": "sqlite:///env.db", "DRAWDOWN_PORT": "9001", "DRAWDOWN_SUPPORT_GRANT_LIMIT": "25"}
    from_env = ServerSettings.from_env(env)
    assert (from_env.db, from_env.port, from_env.support_grant_limit) == ("sqlite:///env.db", 9001, Decimal(25))
    flagged = ServerSettings.from_env(env, port=9002, host="0.0.0.0", support_grant_limit="7.5")
    assert (flagged.port, flagged.host, flagged.support_grant_limit) == (9002, "0.0.0.0", Decimal("7.5"))
    assert ServerSettings.from_env({}) == ServerSettings()
