"""Stream normalised line items out of a file in bounded memory.

DuckDB reads the file (CSV, gzip CSV or Parquet) and hands over Arrow record batches of at
most ``batch_rows`` rows; only one batch is converted to Python objects at a time, so a file
of tens of gigabytes never lives in memory. Row order is the file's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from drawdown.importers.batches import batch_columns
from drawdown.importers.charges import classify_charge
from drawdown.importers.engine import ProgressCallback, connect, translate_errors
from drawdown.importers.errors import LimitExceeded, MissingBillingPeriod
from drawdown.importers.formats import detect_with
from drawdown.importers.limits import BATCH_ROWS_DEFAULT, BATCH_ROWS_MAX
from drawdown.importers.projection import (
    FIELDS,
    Projection,
    amount_text_sql,
    build_projection,
    normalise_keyed,
)
from drawdown.importers.records import LineItem, amount_from_text


def iter_line_items(
    path: Path,
    *,
    batch_rows: int = BATCH_ROWS_DEFAULT,
    on_progress: ProgressCallback | None = None,
    promotion_code_column: str | None = None,
) -> Iterator[LineItem]:
    """Every row of the file as a ``LineItem``, streamed batch by batch."""
    for batch in iter_line_item_batches(
        path,
        batch_rows=batch_rows,
        on_progress=on_progress,
        promotion_code_column=promotion_code_column,
    ):
        yield from batch


def iter_line_item_batches(
    path: Path,
    *,
    batch_rows: int = BATCH_ROWS_DEFAULT,
    on_progress: ProgressCallback | None = None,
    promotion_code_column: str | None = None,
) -> Iterator[tuple[LineItem, ...]]:
    """Batches of at most ``batch_rows`` line items; ``on_progress`` after each batch."""
    if not 0 < batch_rows <= BATCH_ROWS_MAX:
        raise LimitExceeded(path, "batch_rows", batch_rows, BATCH_ROWS_MAX)
    con = connect()
    try:
        projection = build_projection(detect_with(con, path), promotion_code_column)
        total = projection.export.total_rows
        with translate_errors(path):
            reader = con.sql(_select_sql(projection)).to_arrow_reader(batch_rows)
        done = 0
        while True:
            with translate_errors(path):
                batch = _next_batch(reader)
            if batch is None:
                break
            items = _to_line_items(projection, batch)
            done += len(items)
            if on_progress is not None:
                on_progress(done, total)
            yield items
    finally:
        con.close()


def _select_sql(projection: Projection) -> str:
    finished = {name: projection.finished(name) for name in FIELDS}
    finished["cost"] = amount_text_sql(finished["cost"])
    columns = ", ".join(f"{sql} AS {name}" for name, sql in finished.items())
    return f"SELECT {columns} FROM {projection.export.source_sql}"


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _to_line_items(projection: Projection, batch: pa.RecordBatch) -> tuple[LineItem, ...]:
    assert batch.schema.names == list(FIELDS), "the SELECT list is the projection's field list"
    columns = batch_columns(batch)
    return tuple(_to_line_item(projection, row) for row in zip(*columns.values(), strict=True))


def _to_line_item(projection: Projection, row: tuple[Any, ...]) -> LineItem:
    (period_start, period_end, usage_start, usage_end, payer_id, payer_name, account_id,
     account_name, charge_type, service, description, cost, currency, invoice_id,
     promotion_code, tags, cost_categories) = row  # fmt: skip
    if period_start is None:
        raise MissingBillingPeriod(projection.export.path, 1)
    cmap = projection.column_map
    return LineItem(
        billing_period_start=period_start,
        billing_period_end=period_end,
        usage_start=usage_start,
        usage_end=usage_end,
        payer_account_id=payer_id,
        payer_account_name=payer_name,
        usage_account_id=account_id,
        usage_account_name=account_name,
        charge_type=charge_type,
        charge_kind=classify_charge(projection.export.format, charge_type),
        service=service,
        description=description,
        cost=amount_from_text(cost),
        currency=currency,
        invoice_id=invoice_id,
        promotion_code=promotion_code,
        tags=normalise_keyed(tags, cmap.tags),
        cost_categories=normalise_keyed(cost_categories, cmap.cost_categories),
    )
