"""Properties of the pure drawdown engine."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.domain import limits
from drawdown.domain.accounts import DrawdownPolicy
from drawdown.domain.drawdown import Candidate, Charge, burn_key, draw, eligible, postings
from drawdown.domain.grants import Category, Grant, Scope, Target
from drawdown.domain.ledger import check_balanced
from tests.unit.strategies import T0, candidates, charges, grants

policies = st.sampled_from(list(DrawdownPolicy))
pool_caps = st.one_of(st.none(), st.integers(0, 10**6))


@given(charges, candidates(), policies, pool_caps)
def test_drawn_plus_shortfall_equals_the_charge(
    charge: Charge, cands: list[Candidate], policy: DrawdownPolicy, pool: int | None
) -> None:
    result = draw(charge, cands, policy, pool)
    assert result.drawn_units + result.shortfall_units == charge.amount_units
    assert result.shortfall_units >= 0


@given(charges, candidates(), policies, pool_caps)
def test_no_grant_is_drawn_beyond_what_is_left_or_its_cap(
    charge: Charge, cands: list[Candidate], policy: DrawdownPolicy, pool: int | None
) -> None:
    by_id = {c.grant.id: c for c in cands}
    result = draw(charge, cands, policy, pool)
    for d in result.draws:
        c = by_id[d.grant_id]
        assert 0 < d.amount_units <= c.remaining_units
        assert c.headroom_units is None or d.amount_units <= c.headroom_units
    if pool is not None:
        assert sum(d.amount_units for d in result.draws if by_id[d.grant_id].pooled) <= pool


@given(charges, candidates(), policies)
def test_only_eligible_grants_are_drawn(charge: Charge, cands: list[Candidate], policy: DrawdownPolicy) -> None:
    by_id = {c.grant.id: c for c in cands}
    for d in draw(charge, cands, policy).draws:
        grant = by_id[d.grant_id].grant
        assert grant.effective_at <= charge.at, "never before effective_at"
        assert grant.expires_at is None or charge.at < grant.expires_at, "never at or after expiry"
        assert grant.scope.applies_to(charge.target)
        assert eligible(by_id[d.grant_id], charge)


@given(charges, candidates(), policies)
def test_burn_order_is_respected(charge: Charge, cands: list[Candidate], policy: DrawdownPolicy) -> None:
    """A grant is drawn only once every grant ahead of it in the order is used up (or capped)."""
    result = draw(charge, cands, policy)
    key = burn_key(policy)
    order = sorted((c for c in cands if eligible(c, charge)), key=lambda c: key(c.grant))
    drawn = {d.grant_id: d.amount_units for d in result.draws}
    positions = [d.position for d in result.draws]
    assert positions == sorted(positions)
    last = max((i for i, c in enumerate(order) if c.grant.id in drawn), default=-1)
    for c in order[:last]:
        limit = min(c.remaining_units, c.headroom_units if c.headroom_units is not None else c.remaining_units)
        assert drawn.get(c.grant.id, 0) == limit


@given(charges, candidates(), policies, st.randoms(use_true_random=False))
def test_drawdown_is_deterministic_whatever_the_input_order(
    charge: Charge, cands: list[Candidate], policy: DrawdownPolicy, rnd: random.Random
) -> None:
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    assert draw(charge, cands, policy) == draw(charge, shuffled, policy)


@given(charges, candidates(), policies, st.integers(1, 10**6))
def test_charging_a_then_b_draws_the_same_as_charging_a_plus_b(
    charge: Charge, cands: list[Candidate], policy: DrawdownPolicy, b_units: int
) -> None:
    a = charge
    b = replace(charge, amount_units=b_units)
    both = replace(charge, amount_units=a.amount_units + b_units)
    first = draw(a, cands, policy)
    used = {d.grant_id: d.amount_units for d in first.draws}
    after = [
        replace(
            c,
            remaining_units=c.remaining_units - used.get(c.grant.id, 0),
            headroom_units=None if c.headroom_units is None else c.headroom_units - used.get(c.grant.id, 0),
        )
        for c in cands
    ]
    second = draw(b, after, policy)
    together = draw(both, cands, policy)
    split: dict[str, int] = {}
    for d in first.draws + second.draws:
        split[d.grant_id] = split.get(d.grant_id, 0) + d.amount_units
    assert split == {d.grant_id: d.amount_units for d in together.draws}
    assert first.shortfall_units + second.shortfall_units == together.shortfall_units


@given(charges, candidates(), policies)
def test_every_drawdown_posts_a_balanced_transaction_that_explains_each_draw(
    charge: Charge, cands: list[Candidate], policy: DrawdownPolicy
) -> None:
    result = draw(charge, cands, policy)
    legs = postings(result)
    check_balanced(legs)
    explained = [p.detail for p in legs if p.detail is not None]
    assert [e["position"] for e in explained] == [d.position for d in result.draws]
    assert all(e["policy"] == str(policy) and e["key"]["grant_id"] for e in explained)


@settings(max_examples=5)  # each example draws over 5,003 grants
@given(grants())
def test_a_charge_looks_at_the_first_grants_in_burn_order_however_many_an_account_holds(template: Grant) -> None:
    """An account may hold more open grants than one charge looks at: the charge draws from the
    first ``GRANTS_PER_DRAWDOWN_MAX`` eligible ones in burn order, and the rest of it is short."""
    many = limits.GRANTS_PER_DRAWDOWN_MAX + 3
    grant = replace(template, effective_at=T0, expires_at=None, scope=Scope(), period_cap=None)
    cands = [Candidate(replace(grant, id=f"g{i:05d}", created_seq=i + 1), 1, None) for i in range(many)]
    result = draw(Charge("acme", "USD", many, Target(Category.USAGE, "api"), T0), cands)
    order = sorted(cands, key=lambda c: burn_key(DrawdownPolicy.DEFAULT)(c.grant))
    assert [d.grant_id for d in result.draws] == [c.grant.id for c in order[: limits.GRANTS_PER_DRAWDOWN_MAX]]
    assert result.shortfall_units == 3
