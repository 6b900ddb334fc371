"""Contract rules, their stacking and credits at each scope, as small tables over pure rating."""

from __future__ import annotations

from decimal import Decimal

import pytest

from drawdown.domain.contracts import (
    Availability,
    BundleDiscount,
    DiscountScope,
    MinimumCommit,
    PercentDiscount,
    PriceOverride,
    Rebate,
    SlaSchedule,
    SlaStep,
)
from drawdown.domain.errors import InvalidField
from drawdown.domain.explanations import document, text
from drawdown.domain.grants import Category
from drawdown.domain.pricing import Price, PriceModel, Tier
from tests.unit.invoicing import contract, dollars, grant, invoice

D = Decimal

P, C, INV = DiscountScope.PRODUCT, DiscountScope.CATEGORY, DiscountScope.INVOICE
api10 = PercentDiscount("api-10", D(10), P, product="api")
usage20 = PercentDiscount("usage-20", D(20), C, category=Category.USAGE)
all5 = PercentDiscount("all-5", D(5), INV)
all20 = PercentDiscount("all-20", D(20), INV)
bundle15 = BundleDiscount("api+storage-15", ("api", "storage"), D(15))
api_override = PriceOverride("api-price", Price("api", Category.USAGE, PriceModel.PER_UNIT, unit_price=D("0.005")))
gpu_custom_tiers = PriceOverride(
    "gpu-tiers", Price("gpu", Category.USAGE, PriceModel.VOLUME, tiers=(Tier(D(50), D(2)), Tier(None, D("0.25"))))
)

# name, usage, contract rules, {product: (amount, discount, rule)}, amount due
RULE_TABLE = [
    ("no contract: list prices",
     {"api": "1000", "gpu": "150"}, None, {"api": ("10.00", "0.00", None), "gpu": ("125.00", "0.00", None)}, "135.00"),
    ("a product discount covers only its product",
     {"api": "1000", "storage": "10"}, {"discounts": (api10,)},
     {"api": ("10.00", "1.00", "api-10"), "storage": ("1.00", "0.00", None)}, "10.00"),
    ("a category discount covers every line of the category",
     {"api": "1000", "storage": "10"}, {"discounts": (usage20,)},
     {"api": ("10.00", "2.00", "usage-20"), "storage": ("1.00", "0.20", "usage-20")}, "8.80"),
    ("an invoice discount covers fees too",
     {"api": "1000"}, {"discounts": (all5,), "quantities": {"seat": D(2)}},
     {"api": ("10.00", "0.50", "all-5"), "seat": ("40.00", "2.00", "all-5")}, "47.50"),
    ("a price override replaces the book price",
     {"api": "1000"}, {"overrides": (api_override,)}, {"api": ("5.00", "0.00", None)}, "5.00"),
    ("custom volume tiers override graduated list tiers",
     {"gpu": "150"}, {"overrides": (gpu_custom_tiers,)}, {"gpu": ("37.50", "0.00", None)}, "37.50"),
    ("a bundle discount applies when every product of the bundle is billed",
     {"api": "1000", "storage": "10"}, {"bundles": (bundle15,)},
     {"api": ("10.00", "1.50", "api+storage-15"), "storage": ("1.00", "0.15", "api+storage-15")}, "9.35"),
    ("a bundle discount does not apply to a partial bundle",
     {"api": "1000"}, {"bundles": (bundle15,)}, {"api": ("10.00", "0.00", None)}, "10.00"),
    ("minimum commit: a shortfall becomes a true-up line",
     {"api": "1000"}, {"commit": MinimumCommit("min-50", D(50))},
     {"api": ("10.00", "0.00", None), "minimum_commit": ("40.00", "0.00", None)}, "50.00"),
    ("minimum commit: spend above the commitment needs no true-up",
     {"gpu": "150"}, {"commit": MinimumCommit("min-50", D(50))}, {"gpu": ("125.00", "0.00", None)}, "125.00"),
    ("seats, fees and add-ons come from the contract's quantities",
     {}, {"quantities": {"seat": D(3), "support": D(1), "sso": D(1)}},
     {"seat": ("60.00", "0.00", None), "support": ("100.00", "0.00", None), "sso": ("30.00", "0.00", None)}, "190.00"),
]  # fmt: skip

# name, discounts, the rule that wins on the api line
STACKING_TABLE = [
    ("discounts never add up: the largest percentage wins", (api10, usage20, all5), "usage-20"),
    ("equal percentages: the most specific scope wins", (all20, usage20), "usage-20"),
    ("a bundle beats an equal category discount (more specific)",
     (PercentDiscount("usage-15", D(15), C, category=Category.USAGE),), "api+storage-15"),
    ("a larger invoice discount beats a smaller product one", (api10, all20), "all-20"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "quantities", "rules", "lines", "due"), RULE_TABLE, ids=[r[0] for r in RULE_TABLE])
def test_contract_rules(
    name: str,
    quantities: dict[str, str],
    rules: dict[str, object] | None,
    lines: dict[str, tuple[str, str, str | None]],
    due: str,
) -> None:
    inv = invoice(quantities, None if rules is None else contract(**rules))
    got = {
        line.product: (dollars(line.amount_units), dollars(line.discount_units), line.discount and line.discount.rule)
        for line in inv.lines
    }
    assert got == lines
    assert dollars(inv.amount_due_units) == due


@pytest.mark.parametrize(("name", "discounts", "winner"), STACKING_TABLE, ids=[r[0] for r in STACKING_TABLE])
def test_discount_stacking(name: str, discounts: tuple[PercentDiscount, ...], winner: str) -> None:
    inv = invoice({"api": "1000", "storage": "10"}, contract(discounts=discounts, bundles=(bundle15,)))
    api = next(line for line in inv.lines if line.product == "api")
    assert api.discount is not None
    assert api.discount.rule == winner
    assert api.discount.contract_version == 1


def test_an_overridden_price_gets_no_percentage_discount() -> None:
    inv = invoice({"api": "1000"}, contract(overrides=(api_override,), discounts=(all20,)))
    assert [(dollars(line.amount_units), line.discount) for line in inv.lines] == [("5.00", None)]


# name, grants (id, amount, scope), usage, {grant: {product: drawn}}, due
CREDIT_TABLE = [
    ("seed: a $50 credit scoped to usage meters on a $100 invoice leaves $50",
     [("g1", "50", "products:api,gpu")], {"api": "5000", "storage": "500"},
     {"g1": {"api": "50.00"}}, "50.00"),
    ("an invoice-wide credit pays any line",
     [("g1", "12", "invoice")], {"api": "1000", "storage": "10"}, {"g1": {"api": "10.00", "storage": "1.00"}}, "0.00"),
    ("a category credit pays only lines of its category",
     [("g1", "100", "category:license")], {"api": "1000"}, {}, "10.00"),
    ("a product credit pays only its products",
     [("g1", "100", "products:storage")], {"api": "1000", "storage": "10"}, {"g1": {"storage": "1.00"}}, "10.00"),
    ("narrow scopes burn before broad ones on the same line",
     [("g1", "100", "invoice"), ("g2", "4", "products:api")], {"api": "1000"},
     {"g2": {"api": "4.00"}, "g1": {"api": "6.00"}}, "0.00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "grants", "quantities", "draws", "due"), CREDIT_TABLE, ids=[r[0] for r in CREDIT_TABLE]
)
def test_credits_at_each_scope(
    name: str,
    grants: list[tuple[str, str, str]],
    quantities: dict[str, str],
    draws: dict[str, dict[str, str]],
    due: str,
) -> None:
    inv = invoice(quantities, grants=[grant(*g) for g in grants])
    got: dict[str, dict[str, str]] = {}
    for line in inv.lines:
        for d in line.credits:
            got.setdefault(d.grant_id, {})[line.product] = dollars(d.amount_units)
    assert got == draws
    assert dollars(inv.amount_due_units) == due


def test_the_seed_explanation_names_the_meters_the_credit_covered() -> None:
    inv = invoice({"api": "5000", "gpu": "50", "storage": "0"}, grants=[grant("g1", "50", "products:api,gpu")])
    words = text(document(inv, {"g1": {"reason_code": "welcome", "scope": "products:api,gpu"}}))
    assert dollars(inv.total("amount_units")) == "100.00"
    assert dollars(inv.amount_due_units) == "50.00"
    assert "usage/api: quantity 5000" in words
    assert "credit -50.00 USD from grant g1 (position 1 in the drawdown order; scope products:api,gpu" in words
    assert "amount due 50.00 USD" in words


def test_an_invoice_cap_bounds_what_a_grant_pays_over_the_whole_invoice() -> None:
    capped = grant("g1", "100", invoice_cap_units=3_000_000)
    inv = invoice({"api": "1000", "storage": "10"}, grants=[capped])
    assert dollars(inv.total("credited_units")) == "3.00"


def test_credits_draw_whole_cents_even_from_a_grant_with_fractions_left() -> None:
    odd = grant("g1", "0.333333")
    inv = invoice({"api": "1000"}, grants=[odd])
    assert dollars(inv.total("credited_units")) == "0.33"
    assert inv.total("credited_units") == 330_000


def test_credits_pay_the_true_up_line_only_when_their_scope_covers_it() -> None:
    terms = contract(commit=MinimumCommit("min-50", D(50)))
    usage_only = invoice({"api": "1000"}, terms, [grant("g1", "100", "category:usage")])
    anywhere = invoice({"api": "1000"}, terms, [grant("g1", "100", "invoice")])
    assert (dollars(usage_only.amount_due_units), dollars(anywhere.amount_due_units)) == ("40.00", "0.00")


def test_a_rebate_shares_back_spend_above_the_threshold_without_changing_the_amount_due() -> None:
    inv = invoice({"gpu": "150"}, contract(rebates=(Rebate("rebate-10", D(100), D(10)),)))
    assert dollars(inv.amount_due_units) == "125.00"
    assert [(o.kind, o.rule, dollars(o.amount_units)) for o in inv.outcomes] == [("rebate", "rebate-10", "2.50")]


def test_no_rebate_below_the_threshold() -> None:
    assert invoice({"api": "1000"}, contract(rebates=(Rebate("r", D(100), D(10)),))).outcomes == ()


SLA = SlaSchedule("sla-gpu", ("gpu",), (SlaStep(D("99.9"), D(10)), SlaStep(D(99), D(25))))

# name, availability records, credit
SLA_TABLE = [
    ("availability met: no credit", [("99.95", "INC-1")], None),
    ("below 99.9 %: 10 % of the gpu fee", [("99.5", "INC-1")], ("12.50", ("INC-1",))),
    ("below 99 %: 25 %, the worst record counts", [("99.5", "INC-1"), ("98", "INC-2")], ("31.25", ("INC-1", "INC-2"))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "records", "credit"), SLA_TABLE, ids=[r[0] for r in SLA_TABLE])
def test_sla_credits_from_recorded_availability(
    name: str, records: list[tuple[str, str]], credit: tuple[str, tuple[str, ...]] | None
) -> None:
    availability = tuple(Availability("gpu", D(p), ref) for p, ref in records)
    inv = invoice({"gpu": "150", "api": "100"}, contract(sla=(SLA,)), availability=availability)
    found = [(dollars(o.amount_units), o.incident_refs) for o in inv.outcomes if o.kind == "sla"]
    assert found == ([] if credit is None else [credit])
    assert all(o.products == ("gpu",) for o in inv.outcomes)


@pytest.mark.parametrize(("below", "credit"), [("99.9", "150"), ("101", "10"), ("99", "-5")])
def test_an_sla_step_is_a_percentage_from_0_to_100_like_every_other_rule(below: str, credit: str) -> None:
    # a credit above 100 % would pay back more than the product's fee, as a typo nobody would see
    with pytest.raises(InvalidField):
        SlaStep(D(below), D(credit))
