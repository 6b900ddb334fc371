"""Arrow record batches → Python values, column by column (row dicts are several times slower).

Timestamps arrive as DuckDB ``TIMESTAMP`` (UTC wall time) and leave as aware UTC datetimes;
exports repeat few distinct instants (billing periods, hours), so each distinct value is
converted once per batch. Decimals come out of Arrow's decimal128 as exact ``Decimal``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def batch_columns(batch: pa.RecordBatch) -> dict[str, list[Any]]:
    """Every column of a batch as a Python list, timestamps as aware UTC datetimes."""
    return {name: column_values(batch.column(i)) for i, name in enumerate(batch.schema.names)}


def column_values(column: pa.Array) -> list[Any]:
    """One column as Python values."""
    if pa.types.is_timestamp(column.type):
        return _timestamps(column)
    values: list[Any] = column.to_pylist()
    return values


def _timestamps(column: pa.Array) -> list[datetime | None]:
    assert column.type.tz is None, "the projection hands over UTC wall time"
    unit_micros = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}[column.type.unit]
    if unit_micros is None:
        column = column.cast(pa.timestamp("us"))
        unit_micros = 1
    cache: dict[int, datetime] = {}
    out: list[datetime | None] = []
    for ticks in column.cast(pa.int64()).to_pylist():
        if ticks is None:
            out.append(None)
            continue
        moment = cache.get(ticks)
        if moment is None:
            moment = cache[ticks] = _EPOCH + timedelta(microseconds=ticks * unit_micros)
        out.append(moment)
    return out
