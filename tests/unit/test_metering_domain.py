"""Properties of the pure metering core: hold resolution, enforcement decisions, rating."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawdown.domain import limits
from drawdown.domain.enforcement import Mode, Reason, decide
from drawdown.domain.holds import resolution_postings
from drawdown.domain.ledger import EntryKind, Posting, check_balanced
from drawdown.domain.money import credit_unit
from drawdown.domain.rates import RateCard, cost_units
from drawdown.domain.usage import Aggregation, Meter, aggregate, burn_key

legs_strategy = st.lists(st.integers(1, 1_000), min_size=1, max_size=6).map(
    lambda amounts: [
        Posting(EntryKind.HOLD, "acme", "CREDIT", amount, f"g{i}", "acme", {"position": i})
        for i, amount in enumerate(amounts)
    ]
)


@given(legs_strategy, st.data())
def test_a_resolution_captures_in_leg_order_returns_the_rest_and_balances(
    legs: list[Posting], data: st.DataObject
) -> None:
    held = sum(leg.amount for leg in legs)
    captured = data.draw(st.integers(0, held))
    out = resolution_postings(legs, captured, lambda leg: EntryKind.GRANT)
    check_balanced(out)
    consumed = [p for p in out if p.kind is EntryKind.CONSUMED]
    returned = [p for p in out if p.kind is EntryKind.GRANT]
    assert sum(p.amount for p in consumed) + sum(p.amount for p in returned) == held
    assert sum(p.amount for p in out if p.kind is EntryKind.HOLD) == -held
    # draw order: every consumed leg comes from a grant no later than any returned leg
    order = {leg.grant_id: i for i, leg in enumerate(legs)}
    if consumed and returned:
        assert max(order[p.grant_id] for p in consumed) <= min(order[p.grant_id] for p in returned)


def test_returned_credit_goes_where_the_caller_says_and_overdraft_legs_return_to_overdraft() -> None:
    legs = [
        Posting(EntryKind.HOLD, "acme", "C", 5, "g1", "acme"),
        Posting(EntryKind.HOLD, "acme", "C", 3, None, "acme", {"overdraft": True}),
    ]
    fates = {"g1": EntryKind.VOIDED, None: EntryKind.OVERDRAFT}
    out = resolution_postings(legs, 2, lambda leg: fates[leg.grant_id])
    assert [(p.kind, p.amount) for p in out if p.amount > 0] == [
        (EntryKind.CONSUMED, 2),
        (EntryKind.VOIDED, 3),
        (EntryKind.OVERDRAFT, 3),
    ]


DECISIONS = [
    # mode, kill, cost, covered, headroom -> allowed, reason, holdable
    (Mode.ENFORCE, False, 10, 10, 0, True, Reason.COVERED, 10),
    (Mode.ENFORCE, False, 10, 6, 4, True, Reason.OVERDRAFT, 10),
    (Mode.ENFORCE, False, 10, 6, 3, False, Reason.INSUFFICIENT_CREDIT, 9),
    (Mode.ASYNC, False, 10, 6, 3, True, Reason.ABOVE_FLOOR, 9),
    (Mode.ASYNC, False, 10, 0, 0, False, Reason.BELOW_FLOOR, 0),
    (Mode.SHADOW, False, 10, 0, 0, True, Reason.SHADOW, 0),
    (Mode.SHADOW, True, 10, 10, 0, False, Reason.KILL_SWITCH, 0),
    (Mode.ENFORCE, True, 1, 1, 0, False, Reason.KILL_SWITCH, 0),
]


@pytest.mark.parametrize(("mode", "kill", "cost", "covered", "headroom", "allowed", "reason", "holdable"), DECISIONS)
def test_decisions_follow_the_published_table(
    mode: Mode, kill: bool, cost: int, covered: int, headroom: int, allowed: bool, reason: Reason, holdable: int
) -> None:
    verdict = decide(mode, kill_switch=kill, cost_units=cost, covered_units=covered, headroom_units=headroom)
    assert (verdict.allowed, verdict.reason, verdict.holdable_units) == (allowed, reason, holdable)
    assert verdict.holdable_units <= covered + headroom


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_rating_a_then_b_costs_a_plus_b_or_at_most_one_smallest_step_more(a: int, b: int) -> None:
    unit = credit_unit("CREDIT", 2)
    rate = Decimal("0.0037")
    qa, qb = Decimal(a).scaleb(-3), Decimal(b).scaleb(-3)
    together = cost_units(qa + qb, rate, unit)
    apart = cost_units(qa, rate, unit) + cost_units(qb, rate, unit)
    assert together <= apart <= together + 1
    assert Decimal(together).scaleb(-2) >= (qa + qb) * rate


def test_aggregate_counts_sums_maxes_and_distinct_values_of_matching_events() -> None:
    events = [("call", 2_000_000, {"r": "eu", "u": "a"}), ("call", 500_000, {"r": "us", "u": "a"})]
    events += [("other", 9_000_000, {"r": "eu", "u": "b"}), ("call", 1_000_000, {"r": "eu", "u": "c"})]
    eu = {"r": "eu"}
    assert aggregate(Meter("m", "call", Aggregation.SUM, None, eu), events) == Decimal("3")
    assert aggregate(Meter("m", "call", Aggregation.COUNT), events) == 3
    assert aggregate(Meter("m", "call", Aggregation.MAX), events) == Decimal("2")
    assert aggregate(Meter("m", "call", Aggregation.UNIQUE_COUNT, "u"), events) == 2


def test_a_meter_filter_on_true_does_not_match_1_nor_a_filter_on_1_match_true() -> None:
    """JSON true and 1 are different values: an event with ``cached: 1`` is not a cached one."""
    events = [("call", 1_000_000, {"cached": True, "tier": 1}), ("call", 1_000_000, {"cached": 1, "tier": True})]
    events += [("call", 1_000_000, {"cached": False, "tier": 0}), ("call", 1_000_000, {"cached": 0, "tier": False})]
    assert aggregate(Meter("m", "call", Aggregation.COUNT, None, {"cached": True}), events) == 1
    assert aggregate(Meter("m", "call", Aggregation.COUNT, None, {"tier": 1}), events) == 1
    assert aggregate(Meter("m", "call", Aggregation.COUNT, None, {"cached": False}), events) == 1
    assert aggregate(Meter("m", "call", Aggregation.COUNT, None, {"tier": 0}), events) == 1


def test_a_property_sum_is_exact_and_a_number_too_large_to_sum_exactly_is_not_a_number() -> None:
    """A numeric property is an integer, or a decimal string of at most 6 decimals and at most
    10**15 in size (as an integer property may be): the sum of such values is exact, however
    many; anything else (``"9e999999"``, 30 digits) is not counted, and never raises."""
    tokens = ["999999999999999.999999", "0.000001", "1000000000000000", "-5"]
    events = [("call", 0, {"t": value}) for value in tokens]
    events += [
        ("call", 0, {"t": value})
        for value in ["9e999999", "1e1000000", "1" * 30, "0.0000001", "1e16", "NaN", "-Infinity"]
    ]
    assert aggregate(Meter("m", "call", Aggregation.SUM, "t"), events * 200) == Decimal("1999999999999995") * 200
    assert aggregate(Meter("m", "call", Aggregation.MAX, "t"), events) == Decimal("1000000000000000")
    assert aggregate(Meter("m", "call", Aggregation.COUNT, "t"), events) == len(events)


@given(st.text(min_size=1, max_size=255), st.text(min_size=1, max_size=255))
def test_every_event_key_has_its_own_burn_key_that_fits_a_ledger_key(one: str, other: str) -> None:
    assert len(burn_key(one)) <= limits.IDEMPOTENCY_KEY_LENGTH_MAX
    assert (burn_key(one) == burn_key(other)) == (one == other)


def test_a_short_event_key_spelling_a_digest_does_not_share_a_long_keys_burn_key() -> None:
    long_key = "k" * 255
    spelled = burn_key(long_key).split(":", 1)[1]  # what a short key would need to be to collide
    assert burn_key(spelled) != burn_key(long_key)


def test_a_rate_card_cannot_be_changed_after_it_is_made() -> None:
    """Cards are cached and shared per process, so their rates are a read-only copy."""
    given_rates = {"call": Decimal("0.5")}
    card = RateCard("std", 1, "CREDIT", datetime(2026, 1, 1, tzinfo=UTC), given_rates)
    given_rates["call"] = Decimal(9)  # the caller's dict is not the card's
    with pytest.raises(TypeError):
        card.rates["call"] = Decimal(9)  # type: ignore[index]
    assert card.rate("call") == Decimal("0.5")
