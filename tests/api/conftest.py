"""The real app over a real store (SQLite file and PostgreSQL), with one key per role.

``world`` seeds a small book: accounts acme (USD) with child acme-team, globex (EUR),
umbrella with child umbrella-ml; a grant on each; a charge on acme. Customer keys are bound
to acme and to umbrella-ml.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from drawdown.api.app import create_app
from drawdown.book import Book, open_book
from drawdown.bootstrap import ServerSettings
from tests.conftest import START, FixedClock
from tests.finops.synthetic import SYN_ACCOUNT, synthetic_credit, synthetic_focus, synthetic_usage

SUPPORT_LIMIT = Decimal("100")


@dataclass
class World:
    book: Book
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    grants: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    metered: bool = False
    invoiced: bool = False
    finops: bool = False
    spares: int = 0

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, role: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**(self.auth(role) if role else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def seed(book: Book) -> dict[str, str]:
    book.create_account("acme", currency="USD", time_zone="America/New_York")
    book.create_account("acme-team", currency="USD", parent="acme")
    book.create_account("globex", currency="EUR")
    book.create_account("umbrella", currency="USD")
    book.create_account("umbrella-ml", currency="USD", parent="umbrella")
    book.define_unit("AI_CREDIT", scale=3)
    grants = {
        "acme": book.issue_grant(
            "acme", "50", "USD", source="promotional", reason_code="welcome", effective_at=START.replace(day=1)
        ).id,
        "globex": book.issue_grant("globex", "70", "EUR", source="purchased", cost_basis="1").id,
        "umbrella": book.issue_grant("umbrella", "500", "USD", source="purchased", cost_basis="1").id,
        "umbrella-ml": book.issue_grant("umbrella-ml", "5", "USD", source="support", reason_code="goodwill").id,
    }
    book.charge("acme", "5", "USD", product="api")
    return grants


def metering(w: World) -> World:
    """Add what usage and enforcement need, once: AI_CREDIT rate card "standard" (chat at 2
    credits) pinned on acme and umbrella-ml with 100 credits each, and a meter "chats"."""
    if not w.metered:
        w.book.define_rate_card(
            "standard", "AI_CREDIT", {"chat": "2", "image": "10"}, effective_at=START.replace(day=1)
        )
        for account in ("acme", "umbrella-ml"):
            w.book.configure_account(account, rate_card="standard")
            w.grants[f"{account}-ai"] = w.book.issue_grant(
                account, "100", "AI_CREDIT", effective_at=START.replace(day=1)
            ).id
        w.book.define_meter("chats", event_type="chat", aggregation="sum")
        w.metered = True
    return w


def hold_on(w: World, account: str = "acme", quantity: str = "1") -> str:
    return metering(w).book.reserve(account, "chat", quantity).id


MARCH_ENDED = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def invoicing(w: World) -> World:
    """Move the clock past March (once) and bill it: a "default" USD price book (api at $0.01),
    100,000 api calls in March on every USD account, and March finalized for acme
    (``grants["invoice"]``) and umbrella-ml (``grants["invoice-ml"]``)."""
    if not w.invoiced:
        w.book.deps.clock.at = max(w.book.deps.clock.now(), MARCH_ENDED)  # type: ignore[attr-defined]
        price = {"product": "api", "category": "usage", "model": "per_unit", "unit_price": "0.01"}
        w.book.publish_price_book("default", "USD", [price], effective_at="2026-01-01T00:00:00Z")
        for account in ("acme", "acme-team", "umbrella", "umbrella-ml"):
            usage = {"event_id": f"u-{account}", "product": "api", "quantity": "100000",
                     "occurred_at": "2026-03-10T00:00:00Z"}  # fmt: skip
            w.book.record_usage(account, [usage])
        w.grants["invoice"] = str(w.book.finalize_invoice("acme", "2026-03").id)
        w.grants["invoice-ml"] = str(w.book.finalize_invoice("umbrella-ml", "2026-03").id)
        w.invoiced = True
    return w


def fresh_invoice(w: World) -> str:
    """A newly finalized (empty) March invoice of a new account."""
    w.spares += 1
    invoicing(w).book.create_account(f"spare-{w.spares}", currency="USD")
    return str(w.book.finalize_invoice(f"spare-{w.spares}", "2026-03").id)


def voided_invoice(w: World) -> str:
    """A newly finalized, then voided (empty) March invoice of a new account."""
    invoice = fresh_invoice(w)
    w.book.void_invoice(invoice, reason="to re-issue")
    return invoice


def finops(w: World) -> World:
    """Add a FinOps hierarchy (once) through the book: bu > dept > port > prod, spend on the
    SYNTHETIC account 900000000001 mapped to prod, and a copy of the FOCUS sample with 100 USD
    of that spend and two SYNTHETIC credits (``grants["credit-older"]``, ``grants["credit-newer"]``)."""
    if not w.finops:
        w.book.finops_add_node("bu", level="business_unit", name="Retail")
        w.book.finops_add_node("dept", level="department", name="Payments", parent="bu")
        w.book.finops_add_node("port", level="portfolio", name="Checkout", parent="dept")
        w.book.finops_add_node("prod", level="product", name="Checkout API", parent="port")
        w.book.finops_add_rule("r1", kind="usage_account", value=SYN_ACCOUNT, node="prod", priority=10)
        with tempfile.TemporaryDirectory(prefix="finops-api-") as tmp:
            path = synthetic_focus(Path(tmp), "api", [
                synthetic_usage(SYN_ACCOUNT, "100"),
                synthetic_credit(SYN_ACCOUNT, "-1", "2024-08", "Synthetic older credit"),
                synthetic_credit(SYN_ACCOUNT, "-1", "2024-09", "Synthetic newer credit"),
            ])  # fmt: skip
            w.book.finops_import(path)
        for view in w.book.finops_credits():
            if view.code.startswith("synthetic "):
                w.grants["credit-" + view.code.split()[1]] = view.id
        w.finops = True
    return w


def build_world(url: str, clock: FixedClock) -> World:
    book = open_book(url, clock=clock, actor="test")
    grants = seed(book)
    created = {
        "admin": book.create_key("admin"),
        "finance": book.create_key("finance"),
        "support": book.create_key("support"),
        "service": book.create_key("service"),
        "customer": book.create_key("customer", account="acme"),
        "customer-ml": book.create_key("customer", account="umbrella-ml"),
    }
    # no background sweep: tests that compare database snapshots must not race one
    app = create_app(book, ServerSettings(db=url, support_grant_limit=SUPPORT_LIMIT, sweep_seconds=Decimal(0)))
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    tokens = {role: key.token for role, key in created.items()}
    world = World(book, app, client, tokens, grants, {role: key.key.id for role, key in created.items()})
    return world


@pytest.fixture
def world(store_url: str, clock: FixedClock) -> Iterator[World]:
    w = build_world(store_url, clock)
    yield w
    w.client.__exit__(None, None, None)
    w.book.close()


@pytest.fixture
def sqlite_world(tmp_path: Any, clock: FixedClock) -> Iterator[World]:
    w = build_world(f"sqlite:///{tmp_path}/api.db", clock)
    yield w
    w.client.__exit__(None, None, None)
    w.book.close()


class LiveServer:
    """The app under uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
