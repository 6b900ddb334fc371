"""Properties of invoice rating: exact sums, never negative, identical output for identical input."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from drawdown.domain.billed_usage import UsageEvent, summarize
from drawdown.domain.contracts import BundleDiscount, Contract, DiscountScope, MinimumCommit, PercentDiscount
from drawdown.domain.drawdown import Candidate
from drawdown.domain.explanations import document, money
from drawdown.domain.grants import Category
from drawdown.domain.invoices import Invoice, RatingInput, allocate, apply_credits, payable_units, rate
from drawdown.domain.ledger import canonical_json
from drawdown.domain.money import Unit, UnitKind
from tests.unit.invoicing import BOOK, ISSUED, PERIOD, USD, contract, grant

D = Decimal

PRODUCTS = ("api", "storage", "gpu")
quantities = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)
events = st.lists(
    st.builds(UsageEvent, st.integers(0, 10**6).map(lambda n: f"ev{n}"), st.sampled_from(PRODUCTS), quantities,
              st.just(PERIOD.start)),
    max_size=30, unique_by=lambda e: e.event_id,
)  # fmt: skip
percents = st.decimals(min_value=0, max_value=100, places=2)
discounts = st.lists(
    st.one_of(
        st.builds(PercentDiscount, st.just("inv"), percents, st.just(DiscountScope.INVOICE)),
        st.builds(PercentDiscount, st.just("cat"), percents, st.just(DiscountScope.CATEGORY), st.just(Category.USAGE)),
        st.builds(PercentDiscount, st.just("prod"), percents, st.just(DiscountScope.PRODUCT), st.none(),
                  st.sampled_from(PRODUCTS)),
    ),
    max_size=4,
)  # fmt: skip
contracts = st.one_of(
    st.none(),
    st.builds(
        lambda ds, pct, commit: contract(
            discounts=tuple(ds), bundles=(BundleDiscount("b", ("api", "gpu"), pct),),
            commit=None if commit is None else MinimumCommit("min", commit), quantities={"seat": D(2)},
        ),
        discounts, percents, st.one_of(st.none(), st.decimals(0, 5000, places=2)),
    ),
)  # fmt: skip
grant_lists = st.lists(
    st.tuples(st.decimals(min_value=D("0.000001"), max_value=5000, places=6),
              st.sampled_from(["invoice", "category:usage", "products:api", "products:gpu,storage",
                               "category:license"])),
    max_size=5,
).map(lambda gs: [grant(f"g{i}", str(a), s) for i, (a, s) in enumerate(gs, start=1)])  # fmt: skip


def _invoice(evs: list[UsageEvent], terms: Contract | None, grants: list[Candidate]) -> Invoice:
    rated = rate(RatingInput("acme", USD, PERIOD, "UTC", ISSUED, BOOK, terms, summarize(evs)))
    return apply_credits(rated, grants)


@settings(max_examples=150)
@given(events, contracts, grant_lists)
def test_lines_sum_exactly_to_the_totals_and_nothing_is_negative(
    evs: list[UsageEvent], terms: Contract | None, grants: list[Candidate]
) -> None:
    inv = _invoice(evs, terms, grants)
    step = 10**4
    for line in inv.lines:
        assert 0 <= line.discount_units <= line.amount_units
        assert 0 <= line.credited_units <= line.net_units
        assert line.amount_units % step == line.discount_units % step == line.credited_units % step == 0
    assert inv.amount_due_units == inv.total("amount_units") - inv.total("discount_units") - inv.total("credited_units")
    assert inv.amount_due_units >= 0
    exact_usage = sum((line.exact for line in inv.lines if line.kind != "true_up"), D(0))
    rated_usage = sum(line.amount_units for line in inv.lines if line.kind != "true_up")
    assert rated_usage == payable_units(exact_usage, USD)


@settings(max_examples=100)
@given(events, contracts, grant_lists, st.randoms(use_true_random=False))
def test_the_same_inputs_give_byte_identical_invoices_whatever_the_order_or_duplicates(
    evs: list[UsageEvent], terms: Contract | None, grants: list[Candidate], rnd: random.Random
) -> None:
    shuffled = evs + rnd.sample(evs, k=len(evs) // 2)
    rnd.shuffle(shuffled)
    mixed_grants = list(grants)
    rnd.shuffle(mixed_grants)
    first = canonical_json(document(_invoice(evs, terms, grants)))
    again = canonical_json(document(_invoice(shuffled, terms, mixed_grants)))
    assert first == again


@given(st.lists(st.decimals(min_value=0, max_value=10**6, places=9), max_size=20))
def test_largest_remainder_allocation_sums_to_the_rounded_total(exact: list[D]) -> None:
    units = allocate(exact, USD)
    assert sum(units) == payable_units(sum(exact, D(0)), USD)
    assert all(abs(D(u).scaleb(-6) - x) < D("0.01") for u, x in zip(units, exact, strict=True))


@given(
    st.integers(-(10**16), 10**16),
    st.integers(0, 9).flatmap(lambda scale: st.tuples(st.just(scale), st.integers(0, scale))),
    st.booleans(),
)
def test_explanation_amounts_read_exactly_as_the_decimal_they_stand_for(
    units: int, scale_and_minor: tuple[int, int], whole_minor_units: bool
) -> None:
    scale, minor = scale_and_minor
    unit = Unit("X", UnitKind.CREDIT, scale, minor)
    if whole_minor_units:
        units -= units % 10 ** (scale - minor)
    expected = str(Decimal(units).scaleb(-scale).quantize(Decimal(1).scaleb(-minor)))
    assert money(units, unit) == expected
