"""Streaming normalised line items: bounded batches, progress, exact amounts, aware UTC times."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawdown.importers import (
    ChargeKind,
    LimitExceeded,
    MissingBillingPeriod,
    UnreadableExport,
    iter_line_item_batches,
    iter_line_items,
    summarise_export,
)
from tests.importers.samples import (
    CUR1_CSV_SAMPLE,
    FOCUS_SAMPLE,
    WA_DEC,
    gzip_copy,
    with_synthetic_rows,
    write_sql_file,
)

TINY = Decimal("0.0000001234")


def _focus_rows(tmp_path: Path, amounts: list[str]) -> Path:
    """A SYNTHETIC FOCUS CSV: the real header, one real row repeated with the given BilledCost."""
    with FOCUS_SAMPLE.open(newline="") as handle:
        reader = csv.DictReader(handle)
        template = next(reader)
        fields = reader.fieldnames
    assert fields is not None
    target = tmp_path / "synthetic_amounts.csv"
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for amount in amounts:
            writer.writerow({**template, "BilledCost": amount})
    return target


@pytest.mark.parametrize("path", [FOCUS_SAMPLE, CUR1_CSV_SAMPLE, WA_DEC], ids=lambda p: p.name)
def test_a_file_streams_in_bounded_batches_with_progress(path: Path) -> None:
    calls: list[tuple[int, int | None]] = []

    sizes = [
        len(b) for b in iter_line_item_batches(path, batch_rows=40_000, on_progress=lambda d, t: calls.append((d, t)))
    ]

    rows = sum(sizes)
    assert max(sizes) <= 40_000
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1][0] == rows
    expected_total = 91_264 if path == WA_DEC else None  # Parquet knows its rows; CSV does not
    assert {total for _, total in calls} == {expected_total}


def test_a_gzip_csv_reads_the_same_rows_as_the_plain_csv(tmp_path: Path) -> None:
    packed = gzip_copy(FOCUS_SAMPLE, tmp_path / "focus_sample.csv.gz")

    assert list(iter_line_items(packed)) == list(iter_line_items(FOCUS_SAMPLE))


def test_focus_line_items_are_normalised() -> None:
    items = list(iter_line_items(FOCUS_SAMPLE))
    credit = next(item for item in items if item.is_credit)
    tagged = next(item for item in items if "business_unit" in item.tags)

    assert len(items) == 1_000
    assert credit.billing_period_start == datetime(2024, 9, 1, tzinfo=UTC)
    assert credit.usage_start == datetime(2024, 9, 24, 3, tzinfo=UTC)
    assert (credit.payer_account_id, credit.usage_account_id) == ("1234567890123", "11353890204")
    assert credit.usage_account_name == "Atlas Orion"
    assert credit.cost == Decimal("-2.6137")
    assert credit.currency == "USD"
    assert credit.service == "Amazon Elastic Compute Cloud"
    assert set(tagged.tags) >= {"business_unit", "application", "environment"}
    assert all(item.charge_kind in {ChargeKind.USAGE, ChargeKind.CREDIT, ChargeKind.ADJUSTMENT} for item in items)


def test_focus_tag_keys_with_stray_spaces_are_trimmed() -> None:
    item = next(item for item in iter_line_items(FOCUS_SAMPLE) if "Project" in item.tags)

    assert item.tags["org"] == "trey"
    assert " org" not in item.tags


def test_legacy_cur_tag_columns_lose_their_user_prefix_and_keep_aws_ones() -> None:
    items = list(islice(iter_line_items(WA_DEC, batch_rows=5_000), 5_000))

    tagged = next(item for item in items if "department" in item.tags)
    assert set(tagged.tags) >= {"department", "cost_center", "environment"}
    assert any("aws_created_by" in item.tags for item in items)
    assert all(not key.startswith("user_") for item in items for key in item.tags)


def test_cur_csv_timestamps_with_a_zone_and_parquet_timestamps_become_aware_utc() -> None:
    cur_csv = next(iter_line_items(CUR1_CSV_SAMPLE, batch_rows=10))
    parquet = next(iter_line_items(WA_DEC, batch_rows=10))

    assert cur_csv.billing_period_start == datetime(2023, 11, 1, tzinfo=UTC)
    assert parquet.billing_period_start == datetime(2018, 12, 1, tzinfo=UTC)
    assert cur_csv.usage_start is not None
    assert cur_csv.usage_start.tzinfo is UTC


def test_iterated_costs_add_up_to_the_aggregated_period_totals() -> None:
    for path in (FOCUS_SAMPLE, CUR1_CSV_SAMPLE):
        iterated = sum((item.cost for item in iter_line_items(path)), Decimal(0))
        aggregated = sum((period.cost for period in summarise_export(path).periods), Decimal(0))
        assert iterated == aggregated


def test_a_tiny_amount_survives_exactly_from_csv_text(tmp_path: Path) -> None:
    path = _focus_rows(tmp_path, [str(TINY), "-0.00000000603", "9.6E-6"])

    items = list(iter_line_items(path))

    assert [item.cost for item in items] == [TINY, Decimal("-0.00000000603"), Decimal("0.0000096")]
    assert summarise_export(path).periods[0].cost == TINY - Decimal("0.00000000603") + Decimal("0.0000096")


def test_a_tiny_amount_survives_exactly_from_a_parquet_double(tmp_path: Path) -> None:
    sql = f"SELECT * REPLACE ({TINY}::DOUBLE AS line_item_unblended_cost) FROM read_parquet('{WA_DEC}') LIMIT 3"
    path = write_sql_file(sql, tmp_path / "synthetic_tiny_double.parquet")

    assert [item.cost for item in iter_line_items(path)] == [TINY] * 3
    assert summarise_export(path).periods[0].cost == 3 * TINY


def test_a_tiny_amount_survives_exactly_from_a_parquet_decimal(tmp_path: Path) -> None:
    sql = (
        f"SELECT * REPLACE (CAST('{TINY}' AS DECIMAL(20, 12)) AS BilledCost)"
        f" FROM read_csv('{FOCUS_SAMPLE}', all_varchar = true) LIMIT 3"
    )
    path = write_sql_file(sql, tmp_path / "synthetic_decimal.parquet")

    assert {item.cost for item in iter_line_items(path)} == {TINY}
    assert summarise_export(path).periods[0].cost == 3 * TINY


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(
        st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=18, allow_nan=False),
        min_size=1,
        max_size=20,
    )
)
def test_any_decimal_with_up_to_18_places_survives_reading_and_summing(tmp_path: Path, amounts: list[Decimal]) -> None:
    path = _focus_rows(tmp_path, [format(amount, "f") for amount in amounts])

    read = [item.cost for item in iter_line_items(path)]
    summed = summarise_export(path).periods[0].cost

    assert read == amounts
    with localcontext(prec=80):  # the default 28 digits would round the expected sum itself
        assert summed == sum(amounts, Decimal(0))


def test_a_non_numeric_amount_fails_the_import_instead_of_reading_as_zero(tmp_path: Path) -> None:
    path = _focus_rows(tmp_path, ["1.5", "one dollar"])

    with pytest.raises(UnreadableExport, match="one dollar"):
        list(iter_line_items(path))
    with pytest.raises(UnreadableExport):
        summarise_export(path)


def test_rows_without_a_billing_period_are_refused(tmp_path: Path) -> None:
    path = with_synthetic_rows(FOCUS_SAMPLE, tmp_path / "synthetic_no_period.csv", [{"BillingPeriodStart": "NULL"}])

    with pytest.raises(MissingBillingPeriod) as caught:
        summarise_export(path)
    with pytest.raises(MissingBillingPeriod):
        list(iter_line_items(path))

    assert caught.value.code == "missing_billing_period"
    assert caught.value.rows == 1


def test_an_oversized_batch_request_hits_the_named_limit() -> None:
    with pytest.raises(LimitExceeded) as caught:
        next(iter_line_item_batches(FOCUS_SAMPLE, batch_rows=10**9))

    assert caught.value.code == "limit_exceeded"
    assert caught.value.limit == "batch_rows"
