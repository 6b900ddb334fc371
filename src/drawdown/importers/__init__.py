"""Cloud billing export importers (PRODUCT.md F1 import, F2 credit detection).

Purpose
    Read AWS CUR 1.0 (CSV headers or Athena snake_case), CUR 2.0 and FOCUS 1.x exports —
    CSV, gzip CSV or Parquet — into one normalised shape; sum spend per billing period,
    account, service and allocation keys; find cloud-credit rows and turn them into credit
    records keyed by promotion code or normalised description; fingerprint files and
    periods so re-imports and restatements can be told apart.

Boundaries
    Pure import/detect layer. Depends only on the standard library, DuckDB and pyarrow; it
    imports nothing from ``drawdown.storage``, ``services``, ``api`` or ``cli`` and writes
    nothing anywhere: no ledger, no ids, no clock. Callers (services) decide what to post.

Invariants
    * The format is decided from the columns, never the file name (``formats``).
    * Amounts are exact ``Decimal`` and never a Python float; DuckDB carries them as
      DECIMAL(38, 18). Python-side sums trap any rounding (``records.EXACT``).
    * Datetimes are timezone-aware UTC.
    * Memory is bounded: rows stream in batches of ``limits.BATCH_ROWS_DEFAULT``; heavy
      aggregation runs inside DuckDB under ``limits.DUCKDB_MEMORY_LIMIT``. Every bound is in
      ``limits``.
    * A credit is CUR line item type ``Credit`` or FOCUS ``ChargeCategory = Credit`` and
      nothing else — never a discount, refund, tax, Savings Plan negation or adjustment.
    * Expected failures raise ``errors.BillingExportError`` subclasses with a stable ``code``.

Modules
    ``formats`` detection · ``columns`` column maps per format · ``projection`` the SQL
    that normalises them · ``reader`` the streaming line-item iterator · ``aggregation`` /
    ``summary`` / ``groups`` the one-scan spend, period and credit aggregation (spend
    per group, or per a caller's label with ``allocate``) ·
    ``charges`` the credit rule · ``descriptions`` credit keys · ``credits`` credit records
    and issue dates · ``fingerprint`` re-import and restatement checks · ``records`` the
    value types · ``engine`` / ``batches`` DuckDB and Arrow plumbing · ``limits`` every
    bound · ``errors`` the failure family.
"""

from drawdown.importers.charges import ChargeKind, classify_charge
from drawdown.importers.credits import (
    CloudCredit,
    CreditKey,
    CreditKeyKind,
    CreditObservation,
    ExportDateSource,
    build_credits,
)
from drawdown.importers.descriptions import normalise_description
from drawdown.importers.engine import Container, ProgressCallback
from drawdown.importers.errors import (
    BillingExportError,
    LimitExceeded,
    MissingBillingPeriod,
    MissingColumns,
    UnknownExportFormat,
    UnreadableExport,
)
from drawdown.importers.fingerprint import (
    FileFingerprint,
    PeriodChange,
    PeriodChangeKind,
    compare_periods,
    fingerprint_file,
)
from drawdown.importers.formats import DetectedExport, ExportFormat, detect_export
from drawdown.importers.reader import iter_line_item_batches, iter_line_items
from drawdown.importers.records import AllocatedSpend, AllocationKey, LineItem, PeriodSummary, SpendGroup
from drawdown.importers.summary import (
    ExportSummary,
    aggregate_spend,
    detect_credits,
    summarise_export,
)

__all__ = [
    "AllocatedSpend",
    "AllocationKey",
    "BillingExportError",
    "ChargeKind",
    "CloudCredit",
    "Container",
    "CreditKey",
    "CreditKeyKind",
    "CreditObservation",
    "DetectedExport",
    "ExportDateSource",
    "ExportFormat",
    "ExportSummary",
    "FileFingerprint",
    "LimitExceeded",
    "LineItem",
    "MissingBillingPeriod",
    "MissingColumns",
    "PeriodChange",
    "PeriodChangeKind",
    "PeriodSummary",
    "ProgressCallback",
    "SpendGroup",
    "UnknownExportFormat",
    "UnreadableExport",
    "aggregate_spend",
    "build_credits",
    "classify_charge",
    "compare_periods",
    "detect_credits",
    "detect_export",
    "fingerprint_file",
    "iter_line_item_batches",
    "iter_line_items",
    "normalise_description",
    "summarise_export",
]
