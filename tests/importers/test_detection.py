"""Format and container detection, from columns and magic bytes — never from file names."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from drawdown.importers import (
    Container,
    ExportFormat,
    MissingColumns,
    UnknownExportFormat,
    UnreadableExport,
    detect_export,
)
from tests.importers.samples import (
    CUR1_CSV_SAMPLE,
    DATA,
    FOCUS_SAMPLE,
    WA_DEC,
    WA_NOV,
    WA_OCT,
    gzip_copy,
    sample_files,
    write_sql_file,
)

EXPECTED = {
    FOCUS_SAMPLE: (ExportFormat.FOCUS, Container.CSV, "1.0"),
    CUR1_CSV_SAMPLE: (ExportFormat.CUR1, Container.CSV, None),
    WA_OCT: (ExportFormat.CUR1_ATHENA, Container.PARQUET, None),
    WA_NOV: (ExportFormat.CUR1_ATHENA, Container.PARQUET, None),
    WA_DEC: (ExportFormat.CUR1_ATHENA, Container.PARQUET, None),
}

SYNTHETIC_CUR2 = """
    SELECT 'li-1' AS identity_line_item_id,
           '012345678901' AS bill_payer_account_id, 'Example Payer' AS bill_payer_account_name,
           TIMESTAMP '2025-01-01' AS bill_billing_period_start_date,
           TIMESTAMP '2025-02-01' AS bill_billing_period_end_date,
           '000000000042' AS line_item_usage_account_id, 'dev' AS line_item_usage_account_name,
           'Usage' AS line_item_line_item_type,
           TIMESTAMP '2025-01-03 10:00:00' AS line_item_usage_start_date,
           TIMESTAMP '2025-01-03 11:00:00' AS line_item_usage_end_date,
           'AmazonEC2' AS line_item_product_code, 'Linux t3.micro' AS line_item_line_item_description,
           0.0116::DOUBLE AS line_item_unblended_cost, 'USD' AS line_item_currency_code,
           MAP {'user_team': 'payments'} AS resource_tags,
           MAP {'product_name': 'Amazon EC2'} AS product
"""


def test_the_sample_directory_is_found_next_to_the_repository() -> None:
    assert DATA.is_dir(), f"shared/ must be checked out next to the repository: {DATA}"
    assert set(sample_files()) == set(EXPECTED), "every sample file needs an expected format here"


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_real_sample_file_is_detected_as_its_true_format(path: Path) -> None:
    detected = detect_export(path)

    assert (detected.format, detected.container, detected.version) == EXPECTED[path]


def test_snake_case_legacy_cur_is_not_taken_for_cur_2_0() -> None:
    detected = detect_export(WA_NOV)

    assert detected.format is ExportFormat.CUR1_ATHENA
    assert detected.column_type("line_item_line_item_type") == "VARCHAR"
    assert detected.total_rows == 124_340


def test_cur_2_0_is_recognised_by_its_account_names_and_map_columns(tmp_path: Path) -> None:
    parquet = write_sql_file(SYNTHETIC_CUR2, tmp_path / "synthetic_cur2.parquet")
    csv = write_sql_file(
        SYNTHETIC_CUR2.replace("MAP {'user_team': 'payments'}", """'{"user_team": "payments"}'""").replace(
            "MAP {'product_name': 'Amazon EC2'}", """'{"product_name": "Amazon EC2"}'"""
        ),
        tmp_path / "synthetic_cur2.csv",
    )

    assert detect_export(parquet).format is ExportFormat.CUR2
    assert detect_export(csv).format is ExportFormat.CUR2


def test_a_gzip_csv_is_sniffed_by_its_magic_bytes_whatever_its_name(tmp_path: Path) -> None:
    packed = gzip_copy(FOCUS_SAMPLE, tmp_path / "export-without-telling-suffix.dat")

    detected = detect_export(packed)

    assert (detected.format, detected.container) == (ExportFormat.FOCUS, Container.CSV_GZIP)


def test_an_unknown_header_raises_a_typed_error_naming_the_missing_columns(tmp_path: Path) -> None:
    path = write_sql_file("SELECT 1 AS BilledCost, 'x' AS Something", tmp_path / "other.csv")

    with pytest.raises(UnknownExportFormat) as caught:
        detect_export(path)

    assert caught.value.code == "unknown_export_format"
    assert "lineItem/LineItemType" in str(caught.value)
    assert "ChargeCategory" in str(caught.value)
    assert caught.value.missing_by_format["FOCUS 1.x"] == ("ChargeCategory",)


def test_a_known_format_lacking_a_mapped_column_names_it(tmp_path: Path) -> None:
    from drawdown.importers import summarise_export

    path = write_sql_file(
        f"SELECT * EXCLUDE (\"lineItem/UnblendedCost\") FROM read_csv('{CUR1_CSV_SAMPLE}', all_varchar = true)",
        tmp_path / "synthetic_no_cost.csv",
    )

    with pytest.raises(MissingColumns) as caught:
        summarise_export(path)

    assert caught.value.code == "missing_required_columns"
    assert caught.value.missing == ("lineItem/UnblendedCost",)


def test_focus_without_charge_class_is_refused_as_pre_1_0(tmp_path: Path) -> None:
    from drawdown.importers import summarise_export

    path = write_sql_file(
        f"SELECT * EXCLUDE (ChargeClass) FROM read_csv('{FOCUS_SAMPLE}', all_varchar = true)",
        tmp_path / "synthetic_focus_preview.csv",
    )

    assert detect_export(path).version == "pre-1.0"
    with pytest.raises(MissingColumns, match="ChargeClass"):
        summarise_export(path)


def test_a_zip_archive_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    archive = tmp_path / "report.csv.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(CUR1_CSV_SAMPLE, "report.csv")

    with pytest.raises(UnreadableExport, match="unzip"):
        detect_export(archive)


def test_a_missing_file_is_an_unreadable_export(tmp_path: Path) -> None:
    with pytest.raises(UnreadableExport) as caught:
        detect_export(tmp_path / "absent.csv")

    assert caught.value.code == "unreadable_export"
