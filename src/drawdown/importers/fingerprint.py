"""Telling "the same file again" from "a billing period was restated".

* Same file: equal :class:`FileFingerprint` (sha256 of the bytes, streamed in fixed chunks).
* Same content, new bytes (re-compressed, re-ordered): periods compare ``UNCHANGED``.
* Restated period (AWS adds credits and refunds after a month closes, research §1.4): the
  period's row count or totals differ — ``RESTATED``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from drawdown.importers.engine import translate_errors
from drawdown.importers.limits import HASH_CHUNK_BYTES
from drawdown.importers.records import PeriodSummary


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    """The identity of a file's bytes."""

    sha256: str
    size_bytes: int


def fingerprint_file(path: Path) -> FileFingerprint:
    """sha256 and size of a file, read in ``HASH_CHUNK_BYTES`` chunks (bounded memory)."""
    digest = hashlib.sha256()
    size = 0
    with translate_errors(path), path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return FileFingerprint(digest.hexdigest(), size)


class PeriodChangeKind(StrEnum):
    """How a billing period in a new import relates to the previous import."""

    NEW = "new"
    UNCHANGED = "unchanged"
    RESTATED = "restated"
    ABSENT = "absent"
    """In the previous import, not in this one (a partial re-delivery, or a split file)."""


@dataclass(frozen=True, slots=True)
class PeriodChange:
    """One (billing period, currency) compared across two imports."""

    billing_period_start: datetime
    currency: str | None
    kind: PeriodChangeKind
    before: PeriodSummary | None
    after: PeriodSummary | None


def compare_periods(before: Sequence[PeriodSummary], after: Sequence[PeriodSummary]) -> tuple[PeriodChange, ...]:
    """Pair periods of two imports by (start, currency) and say what changed."""
    old = {_key(p): p for p in before}
    new = {_key(p): p for p in after}
    return tuple(_change(key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys()))


def _key(period: PeriodSummary) -> tuple[datetime, str]:
    return (period.billing_period_start, period.currency or "")


def _change(key: tuple[datetime, str], before: PeriodSummary | None, after: PeriodSummary | None) -> PeriodChange:
    if before is None:
        kind = PeriodChangeKind.NEW
    elif after is None:
        kind = PeriodChangeKind.ABSENT
    elif before == after:
        kind = PeriodChangeKind.UNCHANGED
    else:
        kind = PeriodChangeKind.RESTATED
    return PeriodChange(key[0], key[1] or None, kind, before, after)
