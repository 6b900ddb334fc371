"""The normalised values every format is read into: plain frozen data, no behaviour to speak of.

Invariants: datetimes are timezone-aware UTC; amounts are ``Decimal`` and were never a float
in Python (DuckDB sums them as DECIMAL and hands them over as exact decimal text); Python-side
sums use ``EXACT`` so that a rounding sum raises instead of silently losing digits.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import reduce

from drawdown.importers.charges import ChargeKind
from drawdown.importers.limits import AMOUNT_PRECISION

EXACT = decimal.Context(prec=2 * AMOUNT_PRECISION, traps=[decimal.Inexact, decimal.InvalidOperation])
"""Decimal context for sums in Python: wide enough for any DECIMAL(38, 18), traps rounding."""

ZERO = Decimal(0)


def tidy_amount(value: Decimal | None) -> Decimal:
    """The same value without trailing zeros (``Decimal("3.0")`` → ``Decimal("3")``); None → 0."""
    if value is None:
        return ZERO
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=EXACT)
    return value.normalize(EXACT)


def amount_from_text(text: str | None) -> Decimal:
    """An amount DuckDB rendered as exact decimal text (``projection.amount_text_sql``).

    NULL (no rows of that kind, or a blank amount) counts as zero, as SQL ``SUM`` does.
    """
    return ZERO if text is None else Decimal(text)


def sum_amounts(amounts: Iterable[Decimal]) -> Decimal:
    """An exact sum (``EXACT`` traps any rounding), tidied."""
    return tidy_amount(reduce(EXACT.add, amounts, ZERO))


@dataclass(frozen=True, slots=True)
class LineItem:
    """One export row in the shape shared by CUR 1.0, CUR 2.0 and FOCUS."""

    billing_period_start: datetime
    billing_period_end: datetime | None
    usage_start: datetime | None
    """CUR ``UsageStartDate`` / FOCUS ``ChargePeriodStart`` (inclusive)."""
    usage_end: datetime | None
    """CUR ``UsageEndDate`` / FOCUS ``ChargePeriodEnd`` (exclusive)."""
    payer_account_id: str | None
    payer_account_name: str | None
    usage_account_id: str | None
    usage_account_name: str | None
    charge_type: str | None
    """Raw CUR line item type or FOCUS charge category."""
    charge_kind: ChargeKind
    service: str | None
    description: str | None
    cost: Decimal
    """CUR unblended cost / FOCUS BilledCost; credits are negative."""
    currency: str | None
    invoice_id: str | None
    promotion_code: str | None
    tags: Mapping[str, str]
    cost_categories: Mapping[str, str]

    @property
    def is_credit(self) -> bool:
        """True for a cloud credit row (never a discount, refund, tax or adjustment)."""
        return self.charge_kind is ChargeKind.CREDIT


@dataclass(frozen=True, slots=True)
class SpendGroup:
    """Cost summed by DuckDB over all rows sharing these keys, split by charge kind.

    ``cost`` is every row (the invoice view, credits and discounts included);
    ``cost_by_kind`` holds the kinds that occur, so spend before credits is
    ``cost - cost_of(ChargeKind.CREDIT)`` and gross usage is ``cost_of(ChargeKind.USAGE)``.
    """

    billing_period_start: datetime
    payer_account_id: str | None
    usage_account_id: str | None
    usage_account_name: str | None
    service: str | None
    currency: str | None
    tags: tuple[tuple[str, str | None], ...]
    """(requested tag key, value or None), in the order the keys were requested."""
    cost_categories: tuple[tuple[str, str | None], ...]
    cost: Decimal
    cost_by_kind: Mapping[ChargeKind, Decimal]
    row_count: int

    def cost_of(self, *kinds: ChargeKind) -> Decimal:
        """Exact sum of the cost of the given kinds (zero for kinds that do not occur)."""
        return sum_amounts(self.cost_by_kind.get(kind, ZERO) for kind in kinds)


@dataclass(frozen=True, slots=True)
class AllocationKey:
    """What a caller may allocate spend by: one distinct usage account and key values.

    Tags and cost categories are as in ``SpendGroup``: (requested key, value or None), in
    the order the keys were requested.
    """

    usage_account_id: str | None
    tags: tuple[tuple[str, str | None], ...]
    cost_categories: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class AllocatedSpend:
    """Cost summed by DuckDB per billing period, caller's label, service and currency.

    ``cost`` is every row, credits included; ``credit_cost`` the credit rows alone (zero or
    negative), so spend before credits is ``cost - credit_cost``.
    """

    billing_period_start: datetime
    label: str
    service: str | None
    currency: str | None
    cost: Decimal
    credit_cost: Decimal
    row_count: int

    @property
    def cost_before_credits(self) -> Decimal:
        """``cost - credit_cost``, exactly (``EXACT`` traps any rounding)."""
        return EXACT.subtract(self.cost, self.credit_cost)


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """What one file says about one billing period and currency.

    Two imports of the same period with equal summaries carry the same rows as far as
    counts and totals can tell; a different summary means the period was restated.
    """

    billing_period_start: datetime
    billing_period_end: datetime | None
    currency: str | None
    row_count: int
    cost: Decimal
    credit_applied: Decimal
    """Credits applied in the period as a positive amount (minus the credit rows' cost)."""
    first_usage_start: datetime | None
    last_usage_end: datetime | None

    @property
    def data_export_date(self) -> date:
        """The export date the data implies for this period (see ``credits``).

        The UTC date on which the period's latest usage ended: an export cannot be produced
        before the data it holds. Falls back to the billing period end, then its start.
        """
        moment = self.last_usage_end or self.billing_period_end or self.billing_period_start
        return moment.date()
