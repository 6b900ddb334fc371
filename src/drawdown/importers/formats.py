"""Which billing export a file is, decided from its columns, never from its name.

Rules (``shared/research/cur_formats.md`` §1.1 and §1.6):

* ``lineItem/LineItemType`` → legacy CUR 1.0 with ``category/Column`` headers (CSV).
* ``line_item_line_item_type`` plus a CUR 2.0 marker — the account-name columns
  ``bill_payer_account_name`` / ``line_item_usage_account_name`` or one of the map columns
  ``product``, ``resource_tags``, ``cost_category``, ``discount`` → CUR 2.0 (Data Exports).
* ``line_item_line_item_type`` without any marker → legacy CUR 1.0 flattened to snake_case,
  as delivered for Athena (Parquet). snake_case alone does not mean CUR 2.0.
* ``ChargeCategory`` and ``BilledCost`` → FOCUS; the version is read from columns added by
  each release (informative only; the same column map serves 1.0-1.2).

The container (CSV, gzip CSV, Parquet) is sniffed from magic bytes in ``engine``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb

from drawdown.importers.engine import (
    Container,
    connect,
    describe,
    parquet_row_count,
    sniff_container,
    source_sql,
    translate_errors,
)
from drawdown.importers.errors import LimitExceeded, UnknownExportFormat
from drawdown.importers.limits import COLUMNS_PER_FILE_MAX


class ExportFormat(StrEnum):
    """The column layouts we can read."""

    CUR1 = "cur1"
    """Legacy CUR, ``category/Column`` headers (``lineItem/LineItemType``)."""
    CUR1_ATHENA = "cur1_athena"
    """Legacy CUR flattened to snake_case for Athena (``line_item_line_item_type``)."""
    CUR2 = "cur2"
    """CUR 2.0 from AWS Data Exports: snake_case with map columns and account names."""
    FOCUS = "focus"
    """FinOps FOCUS 1.x (``ChargeCategory``, ``BilledCost``, ...)."""


CUR1_SIGNATURE = "lineItem/LineItemType"
SNAKE_SIGNATURE = "line_item_line_item_type"
CUR2_MARKERS = frozenset(
    {
        "bill_payer_account_name",
        "line_item_usage_account_name",
        "product",
        "resource_tags",
        "cost_category",
        "discount",
    }
)
FOCUS_SIGNATURE = ("ChargeCategory", "BilledCost")

# Columns first added by each FOCUS release (FOCUS_Spec CHANGELOG), newest first.
_FOCUS_VERSION_MARKERS = (
    ("1.2", frozenset({"InvoiceId", "BillingAccountType", "SubAccountType", "PricingCurrency"})),
    ("1.1", frozenset({"ServiceSubcategory", "SkuMeter", "CommitmentDiscountQuantity"})),
    ("1.0", frozenset({"ChargeClass"})),
)


@dataclass(frozen=True, slots=True)
class DetectedExport:
    """A file whose format is known: everything later reads need to build their SQL."""

    path: Path
    format: ExportFormat
    container: Container
    version: str | None
    """FOCUS version implied by the columns ("1.0", "1.1", "1.2"); None for CUR."""
    columns: tuple[tuple[str, str], ...]
    """(name, DuckDB type) in file order; CSV columns are all VARCHAR."""
    total_rows: int | None
    """From the Parquet footer; None for CSV, which would need a full scan to count."""

    @property
    def source_sql(self) -> str:
        """The DuckDB table function reading this file."""
        return source_sql(self.path, self.container)

    def column_type(self, name: str) -> str | None:
        """The DuckDB type of a column, or None when the file lacks it."""
        for column, duck_type in self.columns:
            if column == name:
                return duck_type
        return None


def detect_export(path: Path) -> DetectedExport:
    """Sniff container and format of one export file, reading only its header or footer."""
    con = connect()
    try:
        return detect_with(con, path)
    finally:
        con.close()


def detect_with(con: duckdb.DuckDBPyConnection, path: Path) -> DetectedExport:
    """``detect_export`` on an open connection from ``engine.connect`` (left open)."""
    container = sniff_container(path)
    with translate_errors(path):
        return _detect(con, path, container)


def _detect(con: duckdb.DuckDBPyConnection, path: Path, container: Container) -> DetectedExport:
    columns = describe(con, source_sql(path, container))
    if len(columns) > COLUMNS_PER_FILE_MAX:
        raise LimitExceeded(path, "columns per file", len(columns), COLUMNS_PER_FILE_MAX)
    names = frozenset(name for name, _ in columns)
    export_format = classify_columns(path, names)
    version = focus_version(names) if export_format is ExportFormat.FOCUS else None
    total = parquet_row_count(con, path) if container is Container.PARQUET else None
    return DetectedExport(path, export_format, container, version, columns, total)


def classify_columns(path: Path, names: frozenset[str]) -> ExportFormat:
    """Apply the detection rules to a set of column names."""
    if CUR1_SIGNATURE in names:
        return ExportFormat.CUR1
    if SNAKE_SIGNATURE in names:
        return ExportFormat.CUR2 if names & CUR2_MARKERS else ExportFormat.CUR1_ATHENA
    if all(name in names for name in FOCUS_SIGNATURE):
        return ExportFormat.FOCUS
    missing_focus = tuple(name for name in FOCUS_SIGNATURE if name not in names)
    raise UnknownExportFormat(
        path,
        {
            "AWS CUR 1.0 (CSV headers)": (CUR1_SIGNATURE,),
            "AWS CUR 1.0 Athena / CUR 2.0": (SNAKE_SIGNATURE,),
            "FOCUS 1.x": missing_focus,
        },
    )


def focus_version(names: frozenset[str]) -> str:
    """The newest FOCUS release whose added columns are present; "pre-1.0" if none."""
    for version, markers in _FOCUS_VERSION_MARKERS:
        if names & markers:
            return version
    return "pre-1.0"
