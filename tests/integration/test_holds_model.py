"""Holds against a small reference model: a hypothesis state machine, on both stores.

Each example runs on a fresh account in the test's database. The model knows only
totals: available credit, what is owed to the overdraft, consumed credit, and each hold's
grant part and overdraft part. A capture takes the grant part first (draw order) and gives
back the rest; an expiry is a release that happens exactly at ``expires_at``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from drawdown.book import Book, open_book
from drawdown.domain.errors import (
    HoldAlreadyCaptured,
    HoldAlreadyReleased,
    HoldExpired,
    InsufficientCredit,
)
from drawdown.domain.holds import HoldStatus
from tests.conftest import START, FixedClock

RATE = Decimal("0.3")  # credits per call; the unit has scale 0, so costs round up to whole credits
OVERDRAFT = 5
_accounts = itertools.count()


def cost(quantity: int) -> int:
    return math.ceil(RATE * quantity)


@dataclass
class ModelHold:
    id: str
    grant_part: int
    overdraft_part: int
    expires_at: float  # seconds after the start
    status: HoldStatus = HoldStatus.OPEN
    captured: int = 0
    released: int = 0

    @property
    def held(self) -> int:
        return self.grant_part + self.overdraft_part


class HoldsMachine(RuleBasedStateMachine):
    url: str = ""
    steps: ClassVar[list[int]] = []  # steps run by each example, to show the sequences are long

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.book: Book = open_book(self.url, clock=self.clock, actor="model")
        self.account = f"acct-{next(_accounts)}"
        self.available = 0
        self.owed = 0
        self.consumed = 0
        self.now = 0.0
        self.holds: list[ModelHold] = []
        HoldsMachine.steps.append(0)

    @initialize()
    def open_account(self) -> None:
        self.book.define_unit("CALLS", scale=0)
        self.book.create_account(self.account, currency="USD")
        self.book.define_rate_card(self.account, "CALLS", {"call": str(RATE)}, effective_at=START)
        self.book.configure_account(self.account, rate_card=self.account, overdraft_limits={"CALLS": str(OVERDRAFT)})

    def teardown(self) -> None:
        self.book.close()

    @rule(amount=st.integers(1, 40))
    def grant(self, amount: int) -> None:
        self.book.issue_grant(self.account, str(amount), "CALLS", reason_code="top-up")
        still_held = sum(h.overdraft_part for h in self.holds if h.status is HoldStatus.OPEN)
        paid = min(self.owed - still_held, amount)
        self.owed -= paid
        self.available += amount - paid

    @rule(quantity=st.integers(1, 60), ttl=st.integers(1, 120))
    def reserve(self, quantity: int, ttl: int) -> None:
        price = cost(quantity)
        if price > self.available + OVERDRAFT - self.owed:
            with pytest.raises(InsufficientCredit):
                self.book.reserve(self.account, "call", str(quantity), ttl_seconds=ttl)
            return
        hold = self.book.reserve(self.account, "call", str(quantity), ttl_seconds=ttl)
        from_grants = min(price, self.available)
        self.available -= from_grants
        self.owed += price - from_grants
        self.holds.append(ModelHold(hold.id, from_grants, price - from_grants, self.now + ttl))
        assert hold.amount_units == price

    def _resolve(self, hold: ModelHold, captured: int, status: HoldStatus) -> None:
        from_grants = min(captured, hold.grant_part)
        self.available += hold.grant_part - from_grants
        self.owed -= hold.overdraft_part - (captured - from_grants)
        self.consumed += captured
        hold.status, hold.captured, hold.released = status, captured, hold.held - captured

    def _expected_error(self, hold: ModelHold) -> type[Exception] | None:
        if hold.status is HoldStatus.OPEN and self.now >= hold.expires_at:
            self._resolve(hold, 0, HoldStatus.EXPIRED)
            return HoldExpired
        return {
            HoldStatus.CAPTURED: HoldAlreadyCaptured,
            HoldStatus.RELEASED: HoldAlreadyReleased,
            HoldStatus.EXPIRED: HoldExpired,
        }.get(hold.status)

    def _act(self, hold: ModelHold, act: Callable[[], object], captured: int, status: HoldStatus) -> None:
        error = self._expected_error(hold)
        if error is not None:
            with pytest.raises(error):
                act()
            return
        self._resolve(hold, captured, status)
        act()

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), quantity=st.integers(0, 80))
    def capture(self, data: st.DataObject, quantity: int) -> None:
        hold = data.draw(st.sampled_from(self.holds))
        captured = min(cost(quantity), hold.held)
        self._act(hold, lambda: self.book.capture(hold.id, str(quantity)), captured, HoldStatus.CAPTURED)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold = data.draw(st.sampled_from(self.holds))
        self._act(hold, lambda: self.book.release(hold.id), 0, HoldStatus.RELEASED)

    @rule(seconds=st.integers(0, 60))
    def advance(self, seconds: int) -> None:
        self.now += seconds
        self.clock.advance(seconds=seconds)

    @rule()
    def sweep(self) -> None:
        due = {h.id for h in self.holds if h.status is HoldStatus.OPEN and self.now >= h.expires_at}
        for hold in self.holds:
            if hold.id in due:
                self._resolve(hold, 0, HoldStatus.EXPIRED)
        swept = self.book.expire_holds()  # the sweep is global: earlier examples' holds go too
        assert {h.id for h in swept if h.account_id == self.account} == due

    @invariant()
    def balances_match_the_model(self) -> None:
        HoldsMachine.steps[-1] += 1
        if not self.holds and self.available == 0 and self.owed == 0:
            return
        b = self.book.balance(self.account, "CALLS")
        open_held = sum(h.held for h in self.holds if h.status is HoldStatus.OPEN)
        assert (b.available_units, b.reserved_units) == (self.available, open_held)
        assert (b.consumed_units, b.overdraft_units) == (self.consumed, self.owed)
        assert 0 <= self.owed <= OVERDRAFT

    @invariant()
    def holds_match_the_model(self) -> None:
        for model in self.holds[-1:]:
            stored = self.book.hold(model.id)
            assert stored.status is model.status
            assert (stored.captured_units, stored.released_units) == (model.captured, model.released)
            if stored.status is not HoldStatus.OPEN:
                assert stored.captured_units + stored.released_units == stored.amount_units


def test_holds_behave_like_the_reference_model(store_url: str) -> None:
    HoldsMachine.url = store_url
    HoldsMachine.steps = []
    run_state_machine_as_test(
        HoldsMachine,
        settings=settings(
            max_examples=6,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert max(HoldsMachine.steps) >= 50, HoldsMachine.steps


def test_expiry_is_deterministic_at_the_boundary(book: Book, clock: FixedClock) -> None:
    book.define_unit("CALLS", scale=0)
    book.create_account("acme", currency="USD")
    book.define_rate_card("c", "CALLS", {"call": "1"}, effective_at=START)
    book.configure_account("acme", rate_card="c")
    book.issue_grant("acme", "10", "CALLS", reason_code="w")
    hold = book.reserve("acme", "call", "3", ttl_seconds=30)
    clock.advance(seconds=29, microseconds=999_999)
    assert book.expire_holds() == []
    clock.advance(microseconds=1)
    assert [h.id for h in book.expire_holds()] == [hold.id]
    assert book.hold(hold.id).expires_at == START + timedelta(seconds=30)
