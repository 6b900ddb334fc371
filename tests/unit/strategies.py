"""Hypothesis strategies for domain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from drawdown.domain.accounts import Cap, CapPeriod
from drawdown.domain.drawdown import Candidate, Charge
from drawdown.domain.grants import Category, Grant, Scope, ScopeKind, Source, Target

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PRODUCTS = ("api", "storage", "gpu")

instants = st.integers(min_value=0, max_value=90 * 24).map(lambda h: T0 + timedelta(hours=h))
scopes = st.one_of(
    st.just(Scope()),
    st.sampled_from(list(Category)).map(lambda c: Scope(ScopeKind.CATEGORY, c)),
    st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3, unique=True).map(
        lambda ps: Scope(ScopeKind.PRODUCTS, None, tuple(sorted(ps)))
    ),
)
targets = st.builds(Target, st.sampled_from([Category.USAGE, Category.ADD_ON]), st.sampled_from(PRODUCTS))


@st.composite
def grants(draw: st.DrawFn, seq: int = 0) -> Grant:
    effective = draw(instants)
    expires = draw(st.one_of(st.none(), st.integers(1, 60 * 24).map(lambda h: effective + timedelta(hours=h))))
    return Grant(
        id=f"g{draw(st.integers(0, 10**6)):07d}",
        account_id=draw(st.sampled_from(["acme", "parent"])),
        unit="USD",
        amount_units=draw(st.integers(1, 10**6)),
        source=draw(st.sampled_from(list(Source))),
        effective_at=effective,
        expires_at=expires,
        priority=draw(st.integers(1, 100)),
        scope=draw(scopes),
        cost_basis=draw(st.sampled_from([Decimal(0), Decimal("0.85"), Decimal(1)])),
        period_cap=draw(st.one_of(st.none(), st.builds(Cap, st.integers(1, 10**5), st.sampled_from(list(CapPeriod))))),
        invoice_cap_units=None,
        reason_code="test",
        issuer="test",
        external_ref=None,
        created_seq=draw(st.integers(1, 10**6)),
        created_at=T0,
    )


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    found = draw(st.lists(grants(), max_size=12, unique_by=lambda g: g.id))
    return [
        Candidate(
            g,
            draw(st.integers(0, g.amount_units)),
            draw(st.one_of(st.none(), st.integers(0, 10**6))),
            pooled=g.account_id == "parent",
        )
        for g in found
    ]


charges = st.builds(Charge, st.just("acme"), st.just("USD"), st.integers(1, 3 * 10**6), targets, instants)
