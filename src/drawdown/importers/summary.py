"""The import path for big files: one scan of the file → spend, period summaries, credits.

DuckDB does the heavy lifting (see ``aggregation`` for the two stages): it reads only the
columns the projection needs, sums cost exactly as DECIMAL(38, 18) per raw group, then
normalises and re-aggregates the groups. Python only sees the aggregated rows — thousands,
never the millions of line items — and turns them into frozen records.

A caller that only wants spend per *label* of its own (a FinOps node) passes ``allocate``:
Python then sees each distinct allocation key once (usage account and key values, a few
hundred) and DuckDB sums spend per label, instead of Python receiving every spend group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from drawdown.importers import aggregation
from drawdown.importers.batches import batch_columns
from drawdown.importers.charges import ChargeKind, classify_charge
from drawdown.importers.credits import CloudCredit, ExportDateSource, build_credits
from drawdown.importers.engine import (
    Container,
    ProgressCallback,
    connect,
    run_with_progress,
    translate_errors,
)
from drawdown.importers.errors import LimitExceeded, MissingBillingPeriod
from drawdown.importers.formats import DetectedExport, detect_with
from drawdown.importers.groups import (
    credit_observation,
    data_export_dates,
    period_summary,
    rows,
    spend_groups,
)
from drawdown.importers.limits import (
    BATCH_ROWS_DEFAULT,
    GROUP_KEYS_MAX,
    SPEND_GROUPS_MAX,
)
from drawdown.importers.projection import Projection, build_projection
from drawdown.importers.records import (
    AllocatedSpend,
    AllocationKey,
    PeriodSummary,
    SpendGroup,
    amount_from_text,
)

Allocate = Callable[[AllocationKey], str]
"""Gives the label (e.g. a FinOps node) that spend with this allocation key belongs to."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """Everything one scan of an export yields."""

    export: DetectedExport
    row_count: int
    spend: tuple[SpendGroup, ...]
    periods: tuple[PeriodSummary, ...]
    credits: tuple[CloudCredit, ...]
    allocated: tuple[AllocatedSpend, ...] = ()
    """Spend per label, when ``allocate`` was given (``spend`` is then empty)."""


def summarise_export(
    path: Path,
    *,
    tag_keys: Sequence[str] = (),
    cost_category_keys: Sequence[str] = (),
    export_date: date | None = None,
    on_progress: ProgressCallback | None = None,
    promotion_code_column: str | None = None,
    allocate: Allocate | None = None,
) -> ExportSummary:
    """Detect the format, then sum spend and find credits in one pass over the file.

    ``tag_keys`` / ``cost_category_keys`` are normalised keys (``business_unit``, not
    ``user:business_unit``). ``export_date`` overrides the export date the data implies
    (see ``credits``). ``on_progress(done_rows, total_rows_or_None)`` is called from this
    thread while DuckDB scans; the total is known for Parquet only. With ``allocate``,
    spend is summed per (period, label, service, currency) into ``allocated`` — the label
    being what ``allocate`` returns for the group's usage account and key values — and
    ``spend`` stays empty.
    """
    _check_keys(path, tag_keys, cost_category_keys)
    con = connect()
    try:
        projection = build_projection(detect_with(con, path), promotion_code_column)
        keys = (tuple(tag_keys), tuple(cost_category_keys))
        with translate_errors(path):
            summary = _summarise(con, projection, keys, export_date, on_progress, allocate)
    finally:
        con.close()
    if on_progress is not None:
        on_progress(summary.row_count, projection.export.total_rows or summary.row_count)
    return summary


def aggregate_spend(
    path: Path,
    *,
    tag_keys: Sequence[str] = (),
    cost_category_keys: Sequence[str] = (),
    on_progress: ProgressCallback | None = None,
) -> tuple[SpendGroup, ...]:
    """Spend summed per billing period, payer, usage account, service, currency and keys."""
    summary = summarise_export(path, tag_keys=tag_keys, cost_category_keys=cost_category_keys, on_progress=on_progress)
    return summary.spend


def detect_credits(
    path: Path, *, export_date: date | None = None, promotion_code_column: str | None = None
) -> tuple[CloudCredit, ...]:
    """The cloud credits applied in a file, in FIFO (issue date) order."""
    summary = summarise_export(path, export_date=export_date, promotion_code_column=promotion_code_column)
    return summary.credits


def _check_keys(path: Path, tag_keys: Sequence[str], cost_category_keys: Sequence[str]) -> None:
    count = len(tag_keys) + len(cost_category_keys)
    if count > GROUP_KEYS_MAX:
        raise LimitExceeded(path, "tag and cost-category keys", count, GROUP_KEYS_MAX)
    if any(not key for key in (*tag_keys, *cost_category_keys)):
        raise ValueError("tag and cost-category keys must be non-empty")


def _summarise(
    con: duckdb.DuckDBPyConnection,
    projection: Projection,
    keys: tuple[tuple[str, ...], tuple[str, ...]],
    export_date: date | None,
    on_progress: ProgressCallback | None,
    allocate: Allocate | None,
) -> ExportSummary:
    export = projection.export
    tag_keys, cost_category_keys = keys
    key_count = len(tag_keys) + len(cost_category_keys)
    credit_types = _credit_spellings(con, projection) if export.container is Container.PARQUET else None
    stage1 = aggregation.stage1_sql(projection, tag_keys, cost_category_keys, credit_types)
    run_with_progress(con, stage1, export.total_rows, on_progress)
    kinds = _charge_kinds(con, projection)
    con.execute(aggregation.stage2_sql(projection, kinds, key_count)).fetchall()
    period_rows = _fetch_rows(con, aggregation.periods_sql())
    _check_periods(export, period_rows)
    periods = tuple(period_summary(row) for row in period_rows)
    spend: tuple[SpendGroup, ...] = ()
    allocated: tuple[AllocatedSpend, ...] = ()
    if allocate is None:
        spend = _spend(con, export.path, tag_keys, cost_category_keys)
    else:
        allocated = _allocated(con, export.path, tag_keys, cost_category_keys, allocate)
    if export_date is None:
        export_dates, source = data_export_dates(periods), ExportDateSource.DATA
    else:
        export_dates, source = {p.billing_period_start: export_date for p in periods}, ExportDateSource.CALLER
    observations = [credit_observation(row) for row in _fetch_rows(con, aggregation.credits_sql())]
    credits = build_credits(observations, export_dates, source)
    return ExportSummary(export, sum(p.row_count for p in periods), spend, periods, credits, allocated)


def _credit_spellings(con: duckdb.DuckDBPyConnection, projection: Projection) -> tuple[str, ...]:
    """Raw line item types that classify as Credit (a cheap scan of one dictionary column)."""
    sql = f"SELECT DISTINCT {projection.raw['charge_type']} FROM {projection.export.source_sql}"
    spellings = [row[0] for row in con.execute(sql).fetchall()]
    fmt = projection.export.format
    return tuple(s for s in spellings if s is not None and classify_charge(fmt, s) is ChargeKind.CREDIT)


def _charge_kinds(con: duckdb.DuckDBPyConnection, projection: Projection) -> dict[str | None, ChargeKind]:
    """Classify the distinct raw charge types of stage 1 in Python: one source of truth."""
    raw_types = [row[0] for row in con.execute(f"SELECT DISTINCT charge_type FROM {aggregation.STAGE1}").fetchall()]
    return {raw: classify_charge(projection.export.format, raw) for raw in raw_types}


def _check_periods(export: DetectedExport, period_rows: Sequence[dict[str, Any]]) -> None:
    without = sum(int(row["row_count"]) for row in period_rows if row["billing_period_start"] is None)
    if without:
        raise MissingBillingPeriod(export.path, without)


def _spend(
    con: duckdb.DuckDBPyConnection, path: Path, tag_keys: tuple[str, ...], cost_category_keys: tuple[str, ...]
) -> tuple[SpendGroup, ...]:
    key_count = len(tag_keys) + len(cost_category_keys)
    con.execute(aggregation.spend_sql(key_count)).fetchall()
    count = con.execute(f"SELECT count(*) FROM {aggregation.SPEND}").fetchall()[0][0]
    if count > SPEND_GROUPS_MAX:
        raise LimitExceeded(path, "spend groups", int(count), SPEND_GROUPS_MAX)
    reader = con.sql(aggregation.ordered_spend_sql(key_count)).to_arrow_reader(BATCH_ROWS_DEFAULT)
    return tuple(
        group for batch in reader for group in spend_groups(batch_columns(batch), tag_keys, cost_category_keys)
    )


def _allocated(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tag_keys: tuple[str, ...],
    cost_category_keys: tuple[str, ...],
    allocate: Allocate,
) -> tuple[AllocatedSpend, ...]:
    """Label each distinct allocation key in Python, then let DuckDB sum spend per label."""
    key_count = len(tag_keys) + len(cost_category_keys)
    distinct = con.execute(aggregation.allocation_keys_sql(key_count)).fetchmany(SPEND_GROUPS_MAX + 1)
    if len(distinct) > SPEND_GROUPS_MAX:
        raise LimitExceeded(path, "allocation keys", len(distinct), SPEND_GROUPS_MAX)
    split = 1 + len(tag_keys)
    labels = [
        allocate(
            AllocationKey(
                row[0], tuple(zip(tag_keys, row[1:split], strict=True)),
                tuple(zip(cost_category_keys, row[split:], strict=True)),
            )
        )
        for row in distinct
    ]  # fmt: skip
    assert all(isinstance(label, str) for label in labels), "allocate returns a label (str) for every key"
    names = ["usage_account_id", *aggregation.key_columns(key_count)]
    table = {name: pa.array([row[i] for row in distinct], pa.string()) for i, name in enumerate(names)}
    con.register(aggregation.LABELS, pa.table({**table, "label": pa.array(labels, pa.string())}))
    try:
        rows_ = _fetch_rows(con, aggregation.allocated_sql(key_count), path)
    finally:
        con.unregister(aggregation.LABELS)
    return tuple(
        AllocatedSpend(
            billing_period_start=row["billing_period_start"], label=row["label"], service=row["service"],
            currency=row["currency"], cost=amount_from_text(row["cost"]),
            credit_cost=amount_from_text(row["credit_cost"]), row_count=row["row_count"],
        )
        for row in rows_
    )  # fmt: skip


def _fetch_rows(con: duckdb.DuckDBPyConnection, sql: str, path: Path | None = None) -> list[dict[str, Any]]:
    """All rows of a query; with ``path``, more than ``SPEND_GROUPS_MAX`` fails the import."""
    fetched: list[dict[str, Any]] = []
    for batch in con.sql(sql).to_arrow_reader(BATCH_ROWS_DEFAULT):
        fetched.extend(rows(batch_columns(batch)))
        if path is not None and len(fetched) > SPEND_GROUPS_MAX:
            raise LimitExceeded(path, "spend groups", len(fetched), SPEND_GROUPS_MAX)
    return fetched
