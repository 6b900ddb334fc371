"""Aggregated rows → records (pure; the SQL is in ``aggregation``).

Input rows come column-wise from ``batches.batch_columns``; each function turns one
aggregation's columns into frozen records. Amounts are tidied exactly; nothing is summed
here except where noted, and then with the trapping ``EXACT`` context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from drawdown.importers.aggregation import key_columns
from drawdown.importers.charges import ChargeKind
from drawdown.importers.credits import CreditObservation
from drawdown.importers.records import (
    EXACT,
    ZERO,
    PeriodSummary,
    SpendGroup,
    amount_from_text,
)

Columns = Mapping[str, Sequence[Any]]


def rows(columns: Columns) -> Iterator[dict[str, Any]]:
    """Row dicts from columns (for the few-row aggregations)."""
    names = list(columns)
    for values in zip(*(columns[name] for name in names), strict=True):
        yield dict(zip(names, values, strict=True))


def spend_groups(columns: Columns, tag_keys: Sequence[str], cost_category_keys: Sequence[str]) -> Iterator[SpendGroup]:
    """Spend rows (see ``aggregation.spend_sql``) as SpendGroups.

    Works column by column where it can: most kind columns are mostly NULL, and groups
    repeat few distinct tag combinations, so both are cheaper handled once per column or
    per distinct value than once per row.
    """
    fixed = zip(*(columns[name] for name in _SPEND_FIXED), strict=True)
    keyed = _keyed_pairs(columns, tag_keys, cost_category_keys)
    by_kind = _costs_by_kind(columns)
    for (start, payer, account, name, service, currency, cost, count), (tags, categories), kind_costs in zip(
        fixed, keyed, by_kind, strict=True
    ):
        yield SpendGroup(
            billing_period_start=start,
            payer_account_id=payer,
            usage_account_id=account,
            usage_account_name=name,
            service=service,
            currency=currency,
            tags=tags,
            cost_categories=categories,
            cost=amount_from_text(cost),
            cost_by_kind=kind_costs,
            row_count=count,
        )


_KINDS = tuple(ChargeKind)
_SPEND_FIXED = (
    "billing_period_start",
    "payer_account_id",
    "usage_account_id",
    "usage_account_name",
    "service",
    "currency",
    "cost",
    "row_count",
)

KeyedPair = tuple[tuple[tuple[str, str | None], ...], tuple[tuple[str, str | None], ...]]


def _keyed_pairs(columns: Columns, tag_keys: Sequence[str], cost_category_keys: Sequence[str]) -> list[KeyedPair]:
    """Per row, its (tags, cost categories) pairs; equal combinations share one tuple."""
    key_names = key_columns(len(tag_keys) + len(cost_category_keys))
    rows_ = len(columns["cost"])
    if not key_names:
        return [((), ())] * rows_
    split = len(tag_keys)
    seen: dict[tuple[str | None, ...], KeyedPair] = {}
    pairs = []
    for values in zip(*(columns[k] for k in key_names), strict=True):
        pair = seen.get(values)
        if pair is None:
            tags = tuple(zip(tag_keys, values[:split], strict=True))
            pair = seen[values] = (tags, tuple(zip(cost_category_keys, values[split:], strict=True)))
        pairs.append(pair)
    return pairs


def _costs_by_kind(columns: Columns) -> list[dict[ChargeKind, Decimal]]:
    """Per row, the kinds that occur with their cost (kinds in ``ChargeKind`` order)."""
    by_kind: list[dict[ChargeKind, Decimal]] = [{} for _ in columns["cost"]]
    for kind in _KINDS:
        for costs, text in zip(by_kind, columns[f"cost_{kind.value}"], strict=True):
            if text is not None:
                costs[kind] = Decimal(text)
    return by_kind


def period_summary(row: Mapping[str, Any]) -> PeriodSummary:
    """A row of ``aggregation.periods_sql``."""
    credit_cost = amount_from_text(row["credit_cost"])
    return PeriodSummary(
        billing_period_start=row["billing_period_start"],
        billing_period_end=row["billing_period_end"],
        currency=row["currency"],
        row_count=row["row_count"],
        cost=amount_from_text(row["cost"]),
        credit_applied=EXACT.minus(credit_cost) if credit_cost else ZERO,
        first_usage_start=row["first_usage_start"],
        last_usage_end=row["last_usage_end"],
    )


def credit_observation(row: Mapping[str, Any]) -> CreditObservation:
    """A row of ``aggregation.credits_sql``."""
    return CreditObservation(
        billing_period_start=row["billing_period_start"],
        payer_account_id=row["payer_account_id"],
        usage_account_id=row["usage_account_id"],
        usage_account_name=row["usage_account_name"],
        currency=row["currency"],
        description=row["credit_description"],
        promotion_code=row["credit_promotion_code"],
        service=row["service"],
        cost=amount_from_text(row["cost"]),
        row_count=row["row_count"],
        first_usage_start=row["first_usage_start"],
        last_usage_start=row["last_usage_start"],
    )


def data_export_dates(periods: Iterable[PeriodSummary]) -> dict[datetime, date]:
    """Per billing period, the export date its data implies (latest over currencies)."""
    dates: dict[datetime, date] = {}
    for period in periods:
        start, implied = period.billing_period_start, period.data_export_date
        dates[start] = max(dates.get(start, implied), implied)
    return dates
