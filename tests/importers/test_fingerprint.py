"""Same file imported twice vs a restated billing period."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from drawdown.importers import (
    PeriodChangeKind,
    compare_periods,
    fingerprint_file,
    summarise_export,
)
from tests.importers.samples import (
    CUR1_CSV_SAMPLE,
    FOCUS_SAMPLE,
    gzip_copy,
    with_synthetic_rows,
)

SOURCE_MD_SHA256 = "31e59976423fa7fb041ff39e7148f3e4e548d55661fe81482847fa885efdd51b"  # SOURCE.md


def test_the_fingerprint_is_the_sha256_of_the_bytes() -> None:
    fingerprint = fingerprint_file(CUR1_CSV_SAMPLE)

    assert fingerprint.sha256 == SOURCE_MD_SHA256
    assert fingerprint.size_bytes == 1_039_102


def test_the_same_file_imported_twice_has_the_same_fingerprint_and_unchanged_periods() -> None:
    first, second = summarise_export(FOCUS_SAMPLE), summarise_export(FOCUS_SAMPLE)

    assert fingerprint_file(FOCUS_SAMPLE) == fingerprint_file(FOCUS_SAMPLE)
    assert {c.kind for c in compare_periods(first.periods, second.periods)} == {PeriodChangeKind.UNCHANGED}


def test_the_same_rows_in_new_bytes_differ_in_fingerprint_but_not_in_periods(tmp_path: Path) -> None:
    packed = gzip_copy(CUR1_CSV_SAMPLE, tmp_path / "redelivered.csv.gz")

    changes = compare_periods(summarise_export(CUR1_CSV_SAMPLE).periods, summarise_export(packed).periods)

    assert fingerprint_file(packed) != fingerprint_file(CUR1_CSV_SAMPLE)
    assert [c.kind for c in changes] == [PeriodChangeKind.UNCHANGED]


def test_a_late_synthetic_credit_restates_the_closed_period(tmp_path: Path) -> None:
    restated = with_synthetic_rows(
        CUR1_CSV_SAMPLE,
        tmp_path / "synthetic_restated.csv",
        [{"lineItem/LineItemType": "'Credit'", "lineItem/UnblendedCost": "'-0.5'"}],
    )

    (change,) = compare_periods(summarise_export(CUR1_CSV_SAMPLE).periods, summarise_export(restated).periods)

    assert change.kind is PeriodChangeKind.RESTATED
    assert change.before is not None
    assert change.after is not None
    assert change.after.row_count == change.before.row_count + 1
    assert change.after.credit_applied == change.before.credit_applied + Decimal("0.5")


def test_periods_only_in_one_import_are_new_or_absent() -> None:
    focus = summarise_export(FOCUS_SAMPLE).periods
    september, october = focus

    changes = compare_periods([september], [october])

    assert [(c.billing_period_start, c.kind) for c in changes] == [
        (september.billing_period_start, PeriodChangeKind.ABSENT),
        (october.billing_period_start, PeriodChangeKind.NEW),
    ]
