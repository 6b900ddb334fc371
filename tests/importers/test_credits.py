"""Credit detection (F2): only real credits, keyed by code or description and account.

Real data has exactly one credit row (FOCUS sample). FIFO and multi-credit scenarios use
SYNTHETIC copies of the real files with credit rows appended (``with_synthetic_rows``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from drawdown.importers import (
    ChargeKind,
    CreditKeyKind,
    ExportDateSource,
    ExportFormat,
    classify_charge,
    detect_credits,
    summarise_export,
)
from tests.importers.samples import (
    CUR1_CSV_SAMPLE,
    FOCUS_SAMPLE,
    WA_DEC,
    WA_NOV,
    WA_OCT,
    with_synthetic_rows,
)

NOT_CREDITS = (
    "Usage",
    "DiscountedUsage",
    "SavingsPlanCoveredUsage",
    "SavingsPlanNegation",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
    "BundledDiscount",
    "SppDiscount",
    "RiVolumeDiscount",
    "Refund",
    "Tax",
    "Fee",
    "RIFee",
    "SavingsPlanUpfrontFee",
    "SavingsPlanRecurringFee",
    "Adjustment",
)


def _synthetic_cur_credit(account: str, cost: str, description: str, start: str) -> dict[str, str]:
    """A SYNTHETIC Credit row for a legacy-CUR Parquet copy (types match the real columns)."""
    return {
        "line_item_line_item_type": "'Credit'",
        "line_item_usage_account_id": f"'{account}'",
        "line_item_unblended_cost": f"{cost}::DOUBLE",
        "line_item_line_item_description": f"'{description}'",
        "line_item_usage_start_date": f"TIMESTAMP '{start}'",
        "line_item_resource_id": "''",
    }


def test_the_one_real_credit_in_the_focus_sample_is_found_with_its_true_values() -> None:
    (credit,) = detect_credits(FOCUS_SAMPLE)

    assert credit.key.kind is CreditKeyKind.DESCRIPTION
    assert credit.key.value == "aws open source promotional credits, credit from account: 391835788720"
    assert (credit.key.payer_account_id, credit.key.usage_account_id) == ("1234567890123", "11353890204")
    assert credit.usage_account_name == "Atlas Orion"
    assert credit.applied_amount == Decimal("2.6137")  # BilledCost -2.6137, reported positive
    assert (credit.first_used_on, credit.last_used_on) == (date(2024, 9, 24), date(2024, 9, 24))
    assert credit.services == ("Amazon Elastic Compute Cloud",)
    # The September 2024 data runs to 2024-10-01 00:00 UTC: exported that day, issued the day before.
    assert (credit.export_date, credit.export_date_source) == (date(2024, 10, 1), ExportDateSource.DATA)
    assert credit.issue_date == date(2024, 9, 30)


@pytest.mark.parametrize("path", [CUR1_CSV_SAMPLE, WA_OCT, WA_NOV, WA_DEC], ids=lambda p: p.name)
def test_real_cur_files_without_credits_yield_none(path: Path) -> None:
    summary = summarise_export(path)

    assert summary.credits == ()
    assert all(period.credit_applied == 0 for period in summary.periods)


def test_real_adjustment_and_tax_rows_are_not_credits() -> None:
    focus = summarise_export(FOCUS_SAMPLE)
    cur = summarise_export(CUR1_CSV_SAMPLE)

    adjustments = [g for g in focus.spend if ChargeKind.ADJUSTMENT in g.cost_by_kind]
    taxes = [g for g in cur.spend if ChargeKind.TAX in g.cost_by_kind]
    assert adjustments, "the real FOCUS sample holds Adjustment rows"
    assert taxes, "the real CUR sample holds Tax rows"
    assert len(focus.credits) == 1
    assert cur.credits == ()


@pytest.mark.parametrize("charge_type", NOT_CREDITS)
def test_discounts_refunds_taxes_fees_and_adjustments_are_never_credits(charge_type: str) -> None:
    for export_format in ExportFormat:
        assert classify_charge(export_format, charge_type) is not ChargeKind.CREDIT
    assert classify_charge(ExportFormat.CUR2, " credit ") is ChargeKind.CREDIT


def test_synthetic_negative_non_credit_rows_in_a_cur_copy_are_not_credits(tmp_path: Path) -> None:
    rows = [
        {"lineItem/LineItemType": f"'{charge_type}'", "lineItem/UnblendedCost": "'-1.25'"}
        for charge_type in NOT_CREDITS
    ]
    path = with_synthetic_rows(CUR1_CSV_SAMPLE, tmp_path / "synthetic_discounts.csv", rows)

    summary = summarise_export(path)

    assert summary.credits == ()
    kinds = {kind for group in summary.spend for kind in group.cost_by_kind}
    assert {ChargeKind.DISCOUNT, ChargeKind.REFUND, ChargeKind.SAVINGS_PLAN_NEGATION} <= kinds


def test_synthetic_credits_in_two_months_come_out_in_fifo_order(tmp_path: Path) -> None:
    november = with_synthetic_rows(
        WA_NOV,
        tmp_path / "synthetic_nov.parquet",
        [
            _synthetic_cur_credit("011254002932", "-40.5", "AWS Activate Credits", "2018-11-05 10:00:00"),
            _synthetic_cur_credit("011254002932", "-9.5", "AWS Activate Credits", "2018-11-20 10:00:00"),
            _synthetic_cur_credit("836060457634", "-3.25", "MAP 2.0 Migration Credit", "2018-11-12 00:00:00"),
        ],
    )
    december = with_synthetic_rows(
        WA_DEC,
        tmp_path / "synthetic_dec.parquet",
        [_synthetic_cur_credit("011254002932", "-12", "AWS Activate Credits", "2018-12-02 00:00:00")],
    )

    nov_summary = summarise_export(november)
    nov_credits, dec_credits = nov_summary.credits, detect_credits(december)
    queue = sorted([*nov_credits, *dec_credits], key=lambda c: (c.issue_date, c.key))

    assert [(c.key.usage_account_id, c.key.value, c.applied_amount, c.issue_date) for c in queue] == [
        ("011254002932", "aws activate credits", Decimal(50), date(2018, 11, 30)),
        ("836060457634", "map 2.0 migration credit", Decimal("3.25"), date(2018, 11, 30)),
        ("011254002932", "aws activate credits", Decimal(12), date(2018, 12, 31)),
    ]
    activate = nov_credits[0]
    assert (activate.first_used_on, activate.last_used_on, activate.row_count) == (
        date(2018, 11, 5),
        date(2018, 11, 20),
        2,
    )
    assert nov_summary.periods[0].credit_applied == Decimal("53.25")


def test_synthetic_descriptions_differing_only_in_volatile_parts_are_one_credit(tmp_path: Path) -> None:
    rows = [
        {
            "lineItem/LineItemType": "'Credit'",
            "lineItem/UnblendedCost": f"'{cost}'",
            "lineItem/LineItemDescription": f"'{description}'",
        }
        for cost, description in (
            ("-1", "AWS Activate Credits  (2023-11-01)"),
            ("-2", "aws activate credits (2023-11-15)"),
        )
    ]
    path = with_synthetic_rows(CUR1_CSV_SAMPLE, tmp_path / "synthetic_volatile.csv", rows)

    (credit,) = detect_credits(path)

    assert credit.key.value == "aws activate credits"
    assert credit.key.usage_account_id == "123412340534"
    assert credit.applied_amount == Decimal(3)
    assert credit.issue_date == date(2023, 11, 30)  # the November 2023 data runs to 2023-12-01


def test_the_caller_can_pass_the_export_date(tmp_path: Path) -> None:
    (credit,) = detect_credits(FOCUS_SAMPLE, export_date=date(2024, 9, 25))

    assert credit.export_date_source is ExportDateSource.CALLER
    assert credit.issue_date == date(2024, 9, 24)


def test_a_synthetic_promotion_code_column_keys_the_credit_by_code(tmp_path: Path) -> None:
    path = with_synthetic_rows(
        FOCUS_SAMPLE,
        tmp_path / "synthetic_codes.csv",
        [
            {"ChargeCategory": "'Credit'", "BilledCost": "'-1.5'", "SubAccountId": "'11353890204'"},
            {
                "ChargeCategory": "'Credit'",
                "BilledCost": "'-2'",
                "SubAccountId": "'99'",
                "x_PromotionCode": "'PROMO-7'",
            },
        ],
        template_where="ChargeCategory = 'Credit'",
    )

    credits = {c.key.value: c for c in detect_credits(path)}

    assert set(credits) == {"PROMO-7", "aws open source promotional credits, credit from account: 391835788720"}
    assert credits["PROMO-7"].key.kind is CreditKeyKind.PROMOTION_CODE
    assert credits["PROMO-7"].key.usage_account_id == "99"
    # the synthetic row reuses the real credit's description and account: it adds to that credit
    real = credits["aws open source promotional credits, credit from account: 391835788720"]
    assert real.applied_amount == Decimal("4.1137")


def test_a_caller_named_promotion_code_column_must_exist() -> None:
    from drawdown.importers import MissingColumns

    with pytest.raises(MissingColumns, match="credit_code"):
        detect_credits(FOCUS_SAMPLE, promotion_code_column="credit_code")
