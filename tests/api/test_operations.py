"""Operations: one structured log line per request, JSON formatting, settings from env and flags,
the background upkeep sweep and `drawdown sweep`."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from drawdown.api.app import create_app
from drawdown.api.observability import JsonFormatter
from drawdown.book import open_book
from drawdown.bootstrap import ServerSettings
from drawdown.cli.main import app as cli
from drawdown.domain.errors import DrawdownError
from tests.api.conftest import World
from tests.conftest import START, FixedClock


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


def test_the_sweep_interval_comes_from_the_environment_and_is_bounded() -> None:
    assert ServerSettings.from_env({}).sweep_seconds == Decimal(5)
    assert ServerSettings.from_env({"DRAWDOWN_SWEEP_SECONDS": "0"}).sweep_seconds == 0
    assert ServerSettings.from_env({"DRAWDOWN_SWEEP_SECONDS": "9"}, sweep_seconds="0.5").sweep_seconds == Decimal("0.5")
    assert ServerSettings.from_env({"DRAWDOWN_SWEEP_SECONDS": "60"}, sweep_seconds=0).sweep_seconds == 0  # 0 is off
    for bad in ("-1", "3601", "soon"):
        with pytest.raises(DrawdownError):
            ServerSettings.from_env({"DRAWDOWN_SWEEP_SECONDS": bad})


def test_the_server_releases_a_hold_past_its_ttl_by_itself(store_url: str, clock: FixedClock) -> None:
    """No caller sweeps: the server's background upkeep releases the hold and counts it."""
    with open_book(store_url, clock=clock) as book:
        book.define_unit("AI_CREDIT", scale=3)
        book.define_rate_card("std", "AI_CREDIT", {"chat": "1"}, effective_at=START - timedelta(days=1))
        book.create_account("acme", currency="USD")
        book.configure_account("acme", rate_card="std")
        book.issue_grant("acme", "10", "AI_CREDIT", reason_code="welcome")
        hold = book.reserve("acme", "chat", "4", ttl_seconds=60)
        settings = ServerSettings(db=store_url, sweep_seconds=Decimal("0.05"))
        with TestClient(create_app(book, settings)) as client:
            clock.advance(seconds=61)
            deadline = time.monotonic() + 10
            while book.hold(hold.id).status != "expired" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert book.hold(hold.id).status == "expired"
            assert book.balance("acme", "AI_CREDIT").available_units == 10_000
            metrics = client.get("/metrics").text
        assert 'drawdown_swept_total{kind="holds_expired"} 1.0' in metrics


def test_drawdown_sweep_runs_one_pass_for_cron(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cron.db"
    with open_book(url) as book:
        book.create_account("acme", currency="USD")
        book.issue_grant("acme", "5", "USD", reason_code="promo", expires_at=datetime.now(UTC) + timedelta(seconds=1))
    time.sleep(1.1)
    result = CliRunner().invoke(cli, ["sweep", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"holds_expired": 0, "grants_expired": 1, "usage_charged": 0,
                                         "usage_skipped": 0}  # fmt: skip
    again = CliRunner().invoke(cli, ["sweep", "--db", url, "--json"])
    assert json.loads(again.output)["grants_expired"] == 0
