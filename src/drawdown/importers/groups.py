"""Aggregated rows → records (pure; the SQL is in ``aggregation``).

Input rows come column-wise from ``batches.batch_columns``; each function turns one
aggregation's columns into frozen records. Amounts are tidied exactly; nothing is summed
here except where noted, and then with the trapping ``EXACT`` context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import repeat
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
    """Spend rows (see ``aggregation.spend_sql``) as SpendGroups."""
    key_names = key_columns(len(tag_keys) + len(cost_category_keys))
    key_values = zip(*(columns[k] for k in key_names), strict=True) if key_names else repeat(())
    by_kind = zip(*(columns[f"cost_{kind.value}"] for kind in _KINDS), strict=True)
    fixed = zip(*(columns[name] for name in _SPEND_FIXED), strict=True)
    rows_ = zip(fixed, key_values, by_kind, strict=False)  # repeat(()) is endless; `fixed` bounds it
    split = len(tag_keys)
    for (start, payer, account, name, service, currency, cost, count), values, kind_costs in rows_:
        yield SpendGroup(
            billing_period_start=start,
            payer_account_id=payer,
            usage_account_id=account,
            usage_account_name=name,
            service=service,
            currency=currency,
            tags=tuple(zip(tag_keys, values[:split], strict=True)),
            cost_categories=tuple(zip(cost_category_keys, values[split:], strict=True)),
            cost=amount_from_text(cost),
            cost_by_kind={k: Decimal(c) for k, c in zip(_KINDS, kind_costs, strict=True) if c is not None},
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
