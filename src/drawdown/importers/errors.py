"""Typed failures of the importers: the expected ways an export file can be unusable.

Each error has a stable ``code`` string and carries data, never an HTTP status or an exit
code; the edges (API, CLI) map codes once. DuckDB and OS exceptions are translated into
:class:`UnreadableExport` at the boundary (``engine.translate_errors``) so callers never
catch a foreign exception type. Bugs raise ``AssertionError``, not one of these.

    BillingExportError                 (base; ``code``, ``path``)
     ├── UnknownExportFormat           unknown_export_format
     ├── MissingColumns                missing_required_columns
     ├── MissingBillingPeriod          missing_billing_period
     ├── UnreadableExport              unreadable_export
     └── LimitExceeded                 limit_exceeded
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar


class BillingExportError(Exception):
    """Base class: an export file that cannot be imported as it is."""

    code: ClassVar[str] = "billing_export_error"

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path.name}: {message}")
        self.path = path


class UnknownExportFormat(BillingExportError):
    """No supported format's signature columns are in the header."""

    code: ClassVar[str] = "unknown_export_format"

    def __init__(self, path: Path, missing_by_format: Mapping[str, tuple[str, ...]]) -> None:
        wanted = "; ".join(f"{name} needs {', '.join(cols)}" for name, cols in missing_by_format.items())
        super().__init__(path, f"not a known billing export (missing columns: {wanted})")
        self.missing_by_format = dict(missing_by_format)


class MissingColumns(BillingExportError):
    """The format was recognised, but columns its column map needs are absent."""

    code: ClassVar[str] = "missing_required_columns"

    def __init__(self, path: Path, export_format: str, missing: tuple[str, ...]) -> None:
        super().__init__(path, f"{export_format} export lacks columns: {', '.join(missing)}")
        self.export_format = export_format
        self.missing = missing


class MissingBillingPeriod(BillingExportError):
    """Rows without a billing period start cannot be attributed to a period."""

    code: ClassVar[str] = "missing_billing_period"

    def __init__(self, path: Path, rows: int) -> None:
        super().__init__(path, f"{rows} row(s) have no billing period start")
        self.rows = rows


class UnreadableExport(BillingExportError):
    """The file could not be opened or parsed (I/O error, bad CSV, bad amount, ...)."""

    code: ClassVar[str] = "unreadable_export"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, f"cannot read export: {reason}")
        self.reason = reason


class LimitExceeded(BillingExportError):
    """A named limit from ``limits.py`` was reached."""

    code: ClassVar[str] = "limit_exceeded"

    def __init__(self, path: Path, limit: str, value: int, maximum: int) -> None:
        super().__init__(path, f"{limit} is {value}, more than the maximum {maximum}")
        self.limit = limit
        self.value = value
        self.maximum = maximum
