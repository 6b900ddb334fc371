"""What kind of charge a line is, and the one rule for "this row is a cloud credit".

Only CUR line item type ``Credit`` and FOCUS ``ChargeCategory = Credit`` are credits
(research §1.3, §1.5, §1.6). Pricing discounts (``Discount``, ``EdpDiscount``,
``PrivateRateDiscount``, ``BundledDiscount``, ``SppDiscount``, ``RiVolumeDiscount``, any
``*Discount``), ``SavingsPlanNegation``, ``Refund``, ``Tax``, RI / Savings Plan fees and FOCUS
``Adjustment`` are never credits; they keep kinds of their own so callers can report them.
The credit test exists twice — :func:`classify_charge` for Python and
:func:`credit_predicate_sql` for DuckDB — both built from :data:`CREDIT_CHARGE_TYPE`.
"""

from __future__ import annotations

from enum import StrEnum

from drawdown.importers.formats import ExportFormat


class ChargeKind(StrEnum):
    """A coarse, format-independent bucket for a line item type / charge category."""

    USAGE = "usage"
    PURCHASE = "purchase"
    DISCOUNT = "discount"
    SAVINGS_PLAN_NEGATION = "savings_plan_negation"
    CREDIT = "credit"
    REFUND = "refund"
    TAX = "tax"
    ADJUSTMENT = "adjustment"
    OTHER = "other"


CREDIT_CHARGE_TYPE = "credit"
"""The case-folded line item type / charge category of a credit, in CUR and in FOCUS."""

_DISCOUNT_SUFFIX = "discount"

_CUR_KINDS = {
    "usage": ChargeKind.USAGE,
    "discountedusage": ChargeKind.USAGE,
    "savingsplancoveredusage": ChargeKind.USAGE,
    "savingsplannegation": ChargeKind.SAVINGS_PLAN_NEGATION,
    "fee": ChargeKind.PURCHASE,
    "rifee": ChargeKind.PURCHASE,
    "savingsplanupfrontfee": ChargeKind.PURCHASE,
    "savingsplanrecurringfee": ChargeKind.PURCHASE,
    "flatratesubscription": ChargeKind.PURCHASE,
    "tax": ChargeKind.TAX,
    "refund": ChargeKind.REFUND,
    CREDIT_CHARGE_TYPE: ChargeKind.CREDIT,
}

_FOCUS_KINDS = {
    "usage": ChargeKind.USAGE,
    "purchase": ChargeKind.PURCHASE,
    "tax": ChargeKind.TAX,
    "adjustment": ChargeKind.ADJUSTMENT,
    CREDIT_CHARGE_TYPE: ChargeKind.CREDIT,
}


def classify_charge(export_format: ExportFormat, charge_type: str | None) -> ChargeKind:
    """The kind of a raw CUR line item type or FOCUS charge category."""
    if charge_type is None:
        return ChargeKind.OTHER
    folded = charge_type.strip().casefold()
    if export_format is ExportFormat.FOCUS:
        return _FOCUS_KINDS.get(folded, ChargeKind.OTHER)
    if folded in _CUR_KINDS:
        return _CUR_KINDS[folded]
    if folded.endswith(_DISCOUNT_SUFFIX):
        return ChargeKind.DISCOUNT
    return ChargeKind.OTHER


def credit_predicate_sql(charge_type_sql: str) -> str:
    """A DuckDB boolean expression: is the row with this charge type a credit."""
    return f"(lower(trim({charge_type_sql})) = '{CREDIT_CHARGE_TYPE}')"
