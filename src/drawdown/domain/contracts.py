"""Enterprise contracts: per-account terms, effective-dated and versioned.

A contract version is never edited; an amendment is a new version with a later
``effective_at``, so every past invoice can name the version it applied. Rules:

- :class:`PriceOverride`   a negotiated price (flat, per unit, package or custom tiers) that
                           replaces the price-book price of one product
- :class:`PercentDiscount` a percentage off the whole invoice, one category or one product
- :class:`BundleDiscount`  a percentage off a set of products, when every one of them is billed
- :class:`MinimumCommit`   a minimum spend per billing period; a shortfall becomes a true-up line
- :class:`TermCommit`      a committed spend over a whole term of billing months; the shortfall
                           becomes a true-up line on the invoice of the term's last month
- :class:`Rebate`          a share of the period's spend above a threshold, paid back afterwards
                           as a credit grant (or a credit note)
- :class:`SlaSchedule`     availability below X % gives Y % of the affected product's fee back
                           as an SLA grant naming the incidents

Which of them apply to a line, and in which order, is decided in
:mod:`drawdown.domain.invoices` (the published application order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from drawdown.domain import limits
from drawdown.domain.errors import InvalidField
from drawdown.domain.grants import Category
from drawdown.domain.pricing import Price

HUNDRED = Decimal(100)


class DiscountScope(StrEnum):
    """Most specific first; the order breaks ties between equal percentages."""

    PRODUCT = "product"
    BUNDLE = "bundle"
    CATEGORY = "category"
    INVOICE = "invoice"


_SCOPE_RANK = {scope: rank for rank, scope in enumerate(DiscountScope)}


class Settlement(StrEnum):
    GRANT = "grant"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True, slots=True)
class PriceOverride:
    rule: str
    price: Price


@dataclass(frozen=True, slots=True)
class PercentDiscount:
    rule: str
    percent: Decimal
    scope: DiscountScope = DiscountScope.INVOICE
    category: Category | None = None
    product: str | None = None

    def __post_init__(self) -> None:
        check_percent(self.percent, field=f"{self.rule}.percent")
        assert self.scope is not DiscountScope.BUNDLE, "bundles are BundleDiscount rules"

    def covers(self, category: Category, product: str) -> bool:
        if self.scope is DiscountScope.PRODUCT:
            return self.product == product
        if self.scope is DiscountScope.CATEGORY:
            return self.category is category
        return True


@dataclass(frozen=True, slots=True)
class BundleDiscount:
    rule: str
    products: tuple[str, ...]
    percent: Decimal

    def __post_init__(self) -> None:
        check_percent(self.percent, field=f"{self.rule}.percent")
        if len(self.products) < 2:
            raise InvalidField(f"bundle {self.rule} names at least two products", field="products")


@dataclass(frozen=True, slots=True)
class MinimumCommit:
    rule: str
    amount: Decimal  # minimum spend per billing period, after discounts, before credits


@dataclass(frozen=True, slots=True)
class TermCommit:
    """Committed spend over the billing months ``[start, end)`` — ``end`` is the month after the
    last one, so a calendar year 2026 is ``2026-01`` to ``2027-01``. Months are billing months in
    the account's time zone, so the term is aligned to billing periods by construction.

    What counts is the same basis as :class:`MinimumCommit`: spend after discounts, before
    credits (see :mod:`drawdown.domain.commitments`)."""

    rule: str
    amount: Decimal
    start: str  # "YYYY-MM", the term's first billing month
    end: str  # "YYYY-MM", the month after the term's last billing month

    def __post_init__(self) -> None:
        months = month_index(self.end, field="term_commit.end") - month_index(self.start, field="term_commit.start")
        if not 1 <= months <= limits.TERM_MONTHS_MAX:
            raise InvalidField(
                f"term {self.rule} must end 1 to {limits.TERM_MONTHS_MAX} months after it starts "
                f"(end is the month after the last one), got {self.start} to {self.end}",
                field="term_commit.end",
            )

    @property
    def months(self) -> int:
        return month_index(self.end, field="end") - month_index(self.start, field="start")


def month_index(text: str, *, field: str) -> int:
    """``YYYY-MM`` as a count of months, so terms can be measured without a time zone."""
    if not isinstance(text, str) or len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise InvalidField(f"{field} must be a month such as 2026-10, got {str(text)[:20]!r}", field=field)
    year, month = int(text[:4]), int(text[5:])
    if year < 1 or not 1 <= month <= 12:
        raise InvalidField(f"{field} must be a month such as 2026-10, got {text!r}", field=field)
    return year * 12 + month - 1


@dataclass(frozen=True, slots=True)
class Rebate:
    rule: str
    threshold: Decimal  # spend (after discounts, before credits) above which the rebate starts
    percent: Decimal
    settlement: Settlement = Settlement.GRANT

    def __post_init__(self) -> None:
        check_percent(self.percent, field=f"{self.rule}.percent")

    def amount(self, spend: Decimal) -> Decimal:
        return max(spend - self.threshold, Decimal(0)) * self.percent / HUNDRED


@dataclass(frozen=True, slots=True)
class SlaStep:
    below_percent: Decimal  # availability strictly below this ...
    credit_percent: Decimal  # ... gives this share of the affected fee back

    def __post_init__(self) -> None:
        check_percent(self.below_percent, field="below_percent")
        check_percent(self.credit_percent, field="credit_percent")


@dataclass(frozen=True, slots=True)
class Availability:
    """Recorded availability of one product over (part of) a period, and the incident behind it."""

    product: str
    percent: Decimal
    incident_ref: str


@dataclass(frozen=True, slots=True)
class SlaSchedule:
    rule: str
    products: tuple[str, ...]
    steps: tuple[SlaStep, ...]

    def credit_percent(self, availability: Decimal) -> Decimal:
        """The largest credit of the steps the availability falls below; 0 when none."""
        hits = [s.credit_percent for s in self.steps if availability < s.below_percent]
        return max(hits, default=Decimal(0))


@dataclass(frozen=True, slots=True)
class Contract:
    """One version of an account's terms."""

    account_id: str
    version: int
    effective_at: datetime
    price_book: str = "default"
    price_book_version: int | None = None  # pin (grandfathering); None = the version in force
    quantities: Mapping[str, Decimal] = field(default_factory=dict)  # seats, fees, add-ons per period
    overrides: tuple[PriceOverride, ...] = ()
    discounts: tuple[PercentDiscount, ...] = ()
    bundles: tuple[BundleDiscount, ...] = ()
    commit: MinimumCommit | None = None
    term_commit: TermCommit | None = None
    rebates: tuple[Rebate, ...] = ()
    sla: tuple[SlaSchedule, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.account_id}@v{self.version}"

    def override(self, product: str) -> PriceOverride | None:
        return next((o for o in self.overrides if o.price.product == product), None)


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """The one percentage discount a line received, and the rule and version behind it."""

    rule: str
    scope: DiscountScope
    percent: Decimal
    contract_version: int


def contract_in_force(versions: Sequence[Contract], at: datetime) -> Contract | None:
    """The newest version effective at or before ``at`` (the latest amendment wins)."""
    found = sorted((c for c in versions if c.effective_at <= at), key=lambda c: (c.effective_at, c.version))
    return found[-1] if found else None


def best_discount(
    contract: Contract, category: Category, product: str, billed_products: frozenset[str]
) -> AppliedDiscount | None:
    """The single percentage discount for a line: the largest; ties go to the most specific
    scope (product, bundle, category, invoice), then to the rule id. Never a sum."""
    options = [
        AppliedDiscount(d.rule, d.scope, d.percent, contract.version)
        for d in contract.discounts
        if d.covers(category, product)
    ]
    options += [
        AppliedDiscount(b.rule, DiscountScope.BUNDLE, b.percent, contract.version)
        for b in contract.bundles
        if product in b.products and set(b.products) <= billed_products
    ]
    options = [o for o in options if o.percent > 0]
    return min(options, key=lambda o: (-o.percent, _SCOPE_RANK[o.scope], o.rule), default=None)


def check_percent(value: object, *, field: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= HUNDRED:
        raise InvalidField(f"{field} must be a decimal percentage from 0 to 100, got {value!r}", field=field)
    return value
