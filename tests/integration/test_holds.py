"""Reserve → capture / release / expiry, overdraft, modes and the kill switch, on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drawdown.book import Book
from drawdown.domain.errors import (
    FeatureNotPriced,
    HoldAlreadyCaptured,
    HoldAlreadyReleased,
    HoldExpired,
    HoldNotFound,
    InsufficientCredit,
    InvalidField,
    InvalidQuantity,
    KillSwitchEngaged,
    RateCardNotFound,
)
from drawdown.domain.holds import HoldStatus
from tests.conftest import START, FixedClock
from tests.integration.checker import check
from tests.integration.dump import snapshot


def setup(book: Book, *, overdraft: str = "0", mode: str = "enforce") -> None:
    book.define_unit("CREDIT", scale=3)
    book.create_account("acme", currency="USD")
    book.define_rate_card("std", "CREDIT", {"api_call": "0.5", "gpu": "1.25"}, effective_at=START - timedelta(days=30))
    book.configure_account("acme", mode=mode, rate_card="std", overdraft_limits={"CREDIT": overdraft})


def available(book: Book) -> int:
    return book.balance("acme", "CREDIT").available_units


def conserved(book: Book) -> None:
    b = book.balance("acme", "CREDIT")
    parts = b.available_units + b.pending_units + b.reserved_units + b.consumed_units + b.expired_units
    assert parts + b.voided_units - b.overdraft_units == b.issued_units
    assert check(book.engine, {("acme", "CREDIT"): 10**12}) == []


def test_a_hold_takes_credit_out_of_available_and_a_capture_burns_at_most_what_was_held(book: Book) -> None:
    setup(book)
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    hold = book.reserve("acme", "api_call", "8")  # 4 credits
    assert (hold.amount_units, hold.status) == (4000, HoldStatus.OPEN)
    assert (available(book), book.balance("acme", "CREDIT").reserved_units) == (6000, 4000)
    captured = book.capture(hold.id, "100")  # costs 50: capped at what was held
    assert (captured.captured_units, captured.released_units, captured.status) == (4000, 0, HoldStatus.CAPTURED)
    assert (available(book), book.balance("acme", "CREDIT").consumed_units) == (6000, 4000)
    (resolution,) = [tx for tx in book.ledger("acme") if tx.id == captured.resolution_tx_id]
    assert (resolution.data["cost_units"], resolution.data["captured_units"]) == (50000, 4000)  # 46 went unpaid
    conserved(book)


def test_a_partial_capture_releases_the_rest_back_to_the_grants_in_draw_order(book: Book) -> None:
    setup(book)
    first = book.issue_grant("acme", "2", "CREDIT", reason_code="a", priority=1)
    second = book.issue_grant("acme", "10", "CREDIT", reason_code="b", priority=2)
    hold = book.reserve("acme", "gpu", "4")  # 5 credits: 2 from first, 3 from second
    done = book.capture(hold.id, "2")  # 2.5 credits: 2 from first, 0.5 from second
    assert done.captured_units + done.released_units == hold.amount_units == 5000
    left = {v.state.grant.id: (v.state.remaining_units, v.state.used_units) for v in book.grants("acme", "CREDIT")}
    assert left == {first.id: (0, 2000), second.id: (9500, 500)}
    conserved(book)


def test_a_release_returns_everything_and_a_hold_resolves_only_once(book: Book) -> None:
    setup(book)
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    hold = book.reserve("acme", "api_call", "2")
    released = book.release(hold.id)
    assert (released.status, released.released_units, available(book)) == (HoldStatus.RELEASED, 1000, 10000)
    with pytest.raises(HoldAlreadyReleased):
        book.capture(hold.id, "1")
    other = book.reserve("acme", "api_call", "2")
    book.capture(other.id, "2")
    before = snapshot(book.engine)
    with pytest.raises(HoldAlreadyCaptured):
        book.release(other.id)
    with pytest.raises(HoldAlreadyCaptured):
        book.capture(other.id, "1")
    assert snapshot(book.engine) == before
    with pytest.raises(HoldNotFound):
        book.release("hold_nope")
    conserved(book)


def test_an_expired_hold_is_released_by_the_sweep_or_lazily_on_capture(book: Book, clock: FixedClock) -> None:
    setup(book)
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    swept = book.reserve("acme", "api_call", "2", ttl_seconds=60)
    lazy = book.reserve("acme", "api_call", "4", ttl_seconds=120)
    clock.advance(seconds=59)
    assert book.expire_holds() == []
    clock.advance(seconds=1)  # half-open: expired exactly at expires_at
    assert [h.id for h in book.expire_holds()] == [swept.id]
    assert book.expire_holds() == []
    clock.advance(seconds=60)
    with pytest.raises(HoldExpired) as caught:
        book.capture(lazy.id, "1")
    assert caught.value.data["released_units"] == 2000
    assert book.hold(lazy.id).status is HoldStatus.EXPIRED
    with pytest.raises(HoldExpired):
        book.release(swept.id)
    assert available(book) == 10000
    conserved(book)


def test_credit_returned_to_a_voided_grant_goes_to_voided_not_back_to_available(book: Book) -> None:
    setup(book)
    grant = book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    hold = book.reserve("acme", "api_call", "8")
    book.void_grant(grant.id, reason="fraud")
    book.capture(hold.id, "2")  # 1 credit consumed, 3 returned into voided
    b = book.balance("acme", "CREDIT")
    assert (b.available_units, b.consumed_units, b.voided_units) == (0, 1000, 9000)
    conserved(book)


def test_credit_returned_to_an_expired_grant_goes_to_expired_even_after_the_sweep(
    book: Book, clock: FixedClock
) -> None:
    setup(book)
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome", expires_at=START + timedelta(hours=1))
    hold = book.reserve("acme", "api_call", "8", ttl_seconds=7200)
    clock.advance(hours=1)
    book.expire_due()
    book.release(hold.id)
    b = book.balance("acme", "CREDIT")
    assert (b.available_units, b.expired_units) == (0, 10000)
    assert book.expire_due() == []
    conserved(book)


def test_the_overdraft_lends_up_to_its_limit_and_the_next_grant_settles_it_first(book: Book) -> None:
    setup(book, overdraft="3")
    book.issue_grant("acme", "2", "CREDIT", reason_code="welcome")
    hold = book.reserve("acme", "gpu", "4")  # 5 credits: 2 from the grant, 3 lent
    assert book.balance("acme", "CREDIT").overdraft_units == 3000
    assert not book.authorize("acme", "api_call", "1").allowed
    with pytest.raises(InsufficientCredit):
        book.reserve("acme", "api_call", "1")
    book.capture(hold.id, "3")  # 3.75: the grant's 2 first, 1.75 lent; 1.25 lent back
    assert book.balance("acme", "CREDIT").overdraft_units == 1750
    book.issue_grant("acme", "5", "CREDIT", reason_code="top-up")
    b = book.balance("acme", "CREDIT")
    assert (b.overdraft_units, b.available_units, b.consumed_units) == (0, 3250, 3750)
    conserved(book)


def test_authorize_reports_cost_balance_and_reason_and_writes_nothing(book: Book) -> None:
    setup(book)
    book.issue_grant("acme", "1", "CREDIT", reason_code="welcome")
    before = snapshot(book.engine)
    yes = book.authorize("acme", "api_call", "2")
    no = book.authorize("acme", "gpu", "1")
    assert (yes.allowed, yes.reason, yes.cost.units) == (True, "covered", 1000)
    assert (no.allowed, no.reason, no.cost.units, no.covered.units) == (False, "insufficient_credit", 1250, 1000)
    assert no.balance.available_units == 1000
    assert snapshot(book.engine) == before


def test_shadow_mode_never_blocks_holds_only_what_exists_and_logs_what_it_would_have_blocked(book: Book) -> None:
    setup(book, mode="shadow")
    book.issue_grant("acme", "1", "CREDIT", reason_code="welcome")
    decision = book.authorize("acme", "gpu", "2")
    assert (decision.allowed, decision.reason) == (True, "shadow")
    hold = book.reserve("acme", "gpu", "2")
    assert (hold.requested_units, hold.amount_units) == (2500, 1000)
    assert available(book) == 0
    with book.engine.connect() as conn:
        logged = conn.exec_driver_sql("SELECT feature, cost_units, mode FROM enforcement_decisions").all()
    assert sorted(tuple(r) for r in logged) == [("gpu", 2500, "shadow"), ("gpu", 2500, "shadow")]
    conserved(book)


def test_async_mode_allows_above_the_floor_and_soft_blocks_at_it(book: Book) -> None:
    setup(book, mode="async", overdraft="1")
    book.issue_grant("acme", "1", "CREDIT", reason_code="welcome")
    assert book.authorize("acme", "gpu", "10").reason == "above_floor"
    hold = book.reserve("acme", "gpu", "10")
    assert hold.amount_units == 2000  # the grant and the whole overdraft, never below the floor
    denied = book.authorize("acme", "api_call", "1")
    assert (denied.allowed, denied.reason) == (False, "below_floor")
    conserved(book)


def test_the_kill_switch_denies_every_authorization_and_reserve_but_lets_holds_resolve(book: Book) -> None:
    setup(book, mode="shadow")
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    hold = book.reserve("acme", "api_call", "2")
    book.set_kill_switch(True)
    assert book.authorize("acme", "api_call", "1").reason == "kill_switch"
    with pytest.raises(KillSwitchEngaged):
        book.reserve("acme", "api_call", "1")
    assert book.capture(hold.id, "1").captured_units == 500
    book.set_kill_switch(False)
    assert book.authorize("acme", "api_call", "1").allowed


def test_rates_round_up_to_the_units_scale_and_versions_apply_from_their_effective_time(
    book: Book, clock: FixedClock
) -> None:
    setup(book)
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    assert book.authorize("acme", "api_call", "0.001").cost.units == 1  # 0.0005 rounds up to 0.001
    book.define_rate_card("std", "CREDIT", {"api_call": "2"}, effective_at=START + timedelta(hours=1))
    assert book.authorize("acme", "api_call", "1").cost.units == 500
    clock.advance(hours=1)
    assert book.authorize("acme", "api_call", "1").cost.units == 2000
    with pytest.raises(FeatureNotPriced):
        book.authorize("acme", "gpu", "1")  # version 2 does not price it
    book.configure_account("acme", rate_card="std", rate_card_version=1)
    assert book.authorize("acme", "gpu", "1").cost.units == 1250
    with pytest.raises(RateCardNotFound):
        book.configure_account("acme", rate_card="std", rate_card_version=9)


@pytest.mark.parametrize("mode", ["enforce", "async", "shadow"])
@pytest.mark.parametrize(("rate", "quantity"), [("10000", "1000000000000"), ("1E+20", "1")])
def test_a_request_costing_more_than_the_largest_amount_is_refused_in_every_mode(
    book: Book, mode: str, rate: str, quantity: str
) -> None:
    """10**12 calls at 10,000 credits is 10**22 units at scale 3, past what the ledger (and a
    64-bit column) holds: an invalid quantity (422), not an overflow (500), and nothing written."""
    setup(book, mode=mode)
    book.define_rate_card("std", "CREDIT", {"api_call": rate}, effective_at=START - timedelta(days=1))
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    before = snapshot(book.engine)
    with pytest.raises(InvalidQuantity) as refused:
        book.reserve("acme", "api_call", quantity)
    assert "largest amount" in refused.value.message
    with pytest.raises(InvalidQuantity):
        book.authorize("acme", "api_call", quantity)
    assert snapshot(book.engine) == before


@pytest.mark.parametrize("ttl", [0, -1, 7 * 24 * 3600 + 1, "60", True])
def test_a_hold_ttl_outside_its_bounds_is_refused(book: Book, ttl: object) -> None:
    setup(book)
    book.issue_grant("acme", "10", "CREDIT", reason_code="welcome")
    with pytest.raises(InvalidField):
        book.reserve("acme", "api_call", "1", ttl_seconds=ttl)  # type: ignore[arg-type]


def test_a_grant_issued_while_overdraft_is_held_settles_only_what_was_consumed(book: Book) -> None:
    setup(book, overdraft="3")
    hold = book.reserve("acme", "api_call", "4")  # 2 credits, all lent
    book.issue_grant("acme", "5", "CREDIT", reason_code="top-up")  # nothing consumed yet: nothing settled
    assert (available(book), book.balance("acme", "CREDIT").overdraft_units) == (5000, 2000)
    book.release(hold.id)  # the loan is paid back by the release itself
    b = book.balance("acme", "CREDIT")
    assert (b.available_units, b.overdraft_units) == (5000, 0)
    conserved(book)


def test_a_hold_released_the_next_day_gives_that_day_no_extra_cap_headroom(book: Book, clock: FixedClock) -> None:
    # a grant capped at 10 credits a day; a hold of 10 made late on day one and released after
    # midnight counts on day one (when it was held), so day two may still draw only 10
    setup(book)
    clock.at = START.replace(hour=23)
    book.issue_grant("acme", "100", "CREDIT", reason_code="capped", cap="10", cap_period="day")
    hold = book.reserve("acme", "api_call", "20", ttl_seconds=7200)  # 10 credits
    clock.advance(hours=1, minutes=30)  # 00:30 the next day (UTC)
    book.release(hold.id)
    assert book.authorize("acme", "api_call", "22").allowed is False  # 11 credits: above the day's cap
    with pytest.raises(InsufficientCredit):
        book.reserve("acme", "api_call", "22")
    partial = book.reserve("acme", "gpu", "8", ttl_seconds=60)  # 10 credits: the whole of day two's cap
    assert partial.amount_units == 10000
    conserved(book)


def test_a_hold_captured_in_part_the_next_day_gives_that_day_no_extra_cap_headroom(
    book: Book, clock: FixedClock
) -> None:
    setup(book)
    clock.at = START.replace(hour=23)
    book.issue_grant("acme", "100", "CREDIT", reason_code="capped", cap="10", cap_period="day")
    hold = book.reserve("acme", "api_call", "20", ttl_seconds=7200)  # 10 credits
    clock.advance(hours=1, minutes=30)
    book.capture(hold.id, "4")  # 2 credits burned, 8 returned to the grant
    with pytest.raises(InsufficientCredit):
        book.reserve("acme", "api_call", "22")  # 11 credits: day two's cap is 10
    conserved(book)


def test_a_pooled_hold_released_the_next_day_gives_that_day_no_extra_pool_cap_headroom(
    book: Book, clock: FixedClock
) -> None:
    setup(book)
    book.create_account("acme-team", currency="USD", parent="acme", pool_caps={"CREDIT": ("10", "day")})
    book.configure_account("acme-team", rate_card="std")
    clock.at = START.replace(hour=23)
    book.issue_grant("acme", "100", "CREDIT", reason_code="pool")
    hold = book.reserve("acme-team", "api_call", "20", ttl_seconds=7200)  # 10 pooled credits
    clock.advance(hours=1, minutes=30)
    book.release(hold.id)
    with pytest.raises(InsufficientCredit):
        book.reserve("acme-team", "api_call", "22")  # 11 credits: above the day's pool cap
    assert book.reserve("acme-team", "api_call", "20").amount_units == 10000
