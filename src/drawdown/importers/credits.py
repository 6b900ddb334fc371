"""Cloud-credit records from credit rows (F2), as a pure function over summed observations.

A credit is identified by its promotion code when the export has one, otherwise by its
normalised description (``descriptions.normalise_description``), together with the payer,
the usage account it was applied to and the currency. Its amount applied is minus the sum of
its rows' cost (credit rows are negative), so a positive Decimal; a negative value would
mean the file holds more credit reversals than credits.

Issue date = export date minus one day (PRODUCT.md F2). The **export date** is the first
date on which an export containing the credit existed. The caller may pass it (the S3
delivery date, the manifest, the date of a daily pull); by default it is taken from the data:
for each billing period, the UTC date on which the period's latest usage in the file ended
(``PeriodSummary.data_export_date``) — CUR and FOCUS carry no file creation date, and a file
cannot be exported before the usage it contains. A credit seen in several periods takes the
earliest of their export dates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from drawdown.importers.descriptions import normalise_description
from drawdown.importers.records import EXACT, ZERO, sum_amounts

ISSUE_LAG = timedelta(days=1)
"""Issue date = export date - ISSUE_LAG."""


class CreditKeyKind(StrEnum):
    """What identifies a credit."""

    PROMOTION_CODE = "promotion_code"
    DESCRIPTION = "description"


class ExportDateSource(StrEnum):
    """Where a credit's export date came from."""

    CALLER = "caller"
    DATA = "data"


@dataclass(frozen=True, slots=True)
class CreditObservation:
    """Credit rows of one file summed over one group (DuckDB does the summing)."""

    billing_period_start: datetime
    payer_account_id: str | None
    usage_account_id: str | None
    usage_account_name: str | None
    currency: str | None
    description: str | None
    promotion_code: str | None
    service: str | None
    cost: Decimal
    row_count: int
    first_usage_start: datetime | None
    last_usage_start: datetime | None


@dataclass(frozen=True, slots=True, order=True)
class CreditKey:
    """The identity of a cloud credit across imports."""

    payer_account_id: str
    usage_account_id: str
    currency: str
    kind: CreditKeyKind
    value: str
    """The promotion code, or the normalised description."""


@dataclass(frozen=True, slots=True)
class CloudCredit:
    """A cloud credit as seen in one export: where it applied, how much, since when."""

    key: CreditKey
    description: str | None
    """One raw description of the credit (the smallest, so the choice is deterministic)."""
    usage_account_name: str | None
    applied_amount: Decimal
    row_count: int
    first_used_on: date | None
    last_used_on: date | None
    services: tuple[str, ...]
    billing_periods: tuple[date, ...]
    export_date: date
    export_date_source: ExportDateSource
    issue_date: date


def credit_key(observation: CreditObservation) -> CreditKey:
    """The key of the credit an observation belongs to."""
    code = (observation.promotion_code or "").strip()
    kind = CreditKeyKind.PROMOTION_CODE if code else CreditKeyKind.DESCRIPTION
    value = code or normalise_description(observation.description or "")
    return CreditKey(
        payer_account_id=observation.payer_account_id or "",
        usage_account_id=observation.usage_account_id or "",
        currency=observation.currency or "",
        kind=kind,
        value=value,
    )


def build_credits(
    observations: Iterable[CreditObservation],
    export_dates: Mapping[datetime, date],
    export_date_source: ExportDateSource,
) -> tuple[CloudCredit, ...]:
    """Merge observations into one record per credit key, in first-in-first-out order.

    ``export_dates`` maps each billing period start to that period's export date. The result
    is sorted by issue date, then first use, then key: the FIFO order of F4.
    """
    groups: defaultdict[CreditKey, list[CreditObservation]] = defaultdict(list)
    for observation in observations:
        groups[credit_key(observation)].append(observation)
    credits = [_merge(key, group, export_dates, export_date_source) for key, group in groups.items()]
    return tuple(sorted(credits, key=_fifo_order))


def _merge(
    key: CreditKey,
    group: Sequence[CreditObservation],
    export_dates: Mapping[datetime, date],
    source: ExportDateSource,
) -> CloudCredit:
    export_date = min(export_dates[o.billing_period_start] for o in group)
    firsts = [o.first_usage_start for o in group if o.first_usage_start is not None]
    lasts = [o.last_usage_start for o in group if o.last_usage_start is not None]
    descriptions = [o.description for o in group if o.description is not None]
    names = [o.usage_account_name for o in group if o.usage_account_name is not None]
    cost = sum_amounts(o.cost for o in group)
    return CloudCredit(
        key=key,
        description=min(descriptions, default=None),
        usage_account_name=min(names, default=None),
        applied_amount=EXACT.minus(cost) if cost else ZERO,
        row_count=sum(o.row_count for o in group),
        first_used_on=min(firsts).date() if firsts else None,
        last_used_on=max(lasts).date() if lasts else None,
        services=tuple(sorted({o.service for o in group if o.service is not None})),
        billing_periods=tuple(sorted({o.billing_period_start.date() for o in group})),
        export_date=export_date,
        export_date_source=source,
        issue_date=export_date - ISSUE_LAG,
    )


def _fifo_order(credit: CloudCredit) -> tuple[date, date, CreditKey]:
    return (credit.issue_date, credit.first_used_on or credit.issue_date, credit.key)
