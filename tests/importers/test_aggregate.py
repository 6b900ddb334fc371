"""Spend aggregation in DuckDB: grouped by period, account, service and allocation keys."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from drawdown.importers import (
    AllocationKey,
    ChargeKind,
    LimitExceeded,
    aggregate_spend,
    iter_line_items,
    summarise_export,
)
from drawdown.importers.limits import GROUP_KEYS_MAX
from tests.importers.samples import (
    CUR1_CSV_SAMPLE,
    FOCUS_SAMPLE,
    WA_NOV,
    with_synthetic_rows,
    write_sql_file,
)

SYNTHETIC_CUR2 = """
    SELECT * FROM (VALUES
        ('Usage', '000000000042', 'dev', 'AmazonEC2', 1.25::DOUBLE,
         MAP {'user_team': 'payments', 'aws_createdBy': 'robot'}, MAP {'Department': 'Finance'}),
        ('Usage', '000000000042', 'dev', 'AmazonEC2', 0.75::DOUBLE,
         MAP {'user_team': 'payments'}, MAP {'Department': 'Finance'}),
        ('Usage', '000000000042', 'dev', 'AmazonEC2', 2::DOUBLE,
         MAP {'user_team': ''}, MAP {}::MAP(VARCHAR, VARCHAR)),
        ('EdpDiscount', '000000000042', 'dev', 'AmazonEC2', -0.2::DOUBLE,
         MAP {'user_team': 'payments'}, MAP {'Department': 'Finance'}),
        ('Credit', '000000000042', 'dev', 'AmazonEC2', -1::DOUBLE,
         MAP {}::MAP(VARCHAR, VARCHAR), MAP {}::MAP(VARCHAR, VARCHAR))
    ) AS t(line_item_line_item_type, line_item_usage_account_id, line_item_usage_account_name,
           line_item_product_code, line_item_unblended_cost, resource_tags, cost_category)
    CROSS JOIN (SELECT
        '012345678901' AS bill_payer_account_id, 'Example Payer' AS bill_payer_account_name,
        TIMESTAMP '2025-01-01' AS bill_billing_period_start_date,
        TIMESTAMP '2025-02-01' AS bill_billing_period_end_date,
        TIMESTAMP '2025-01-03 10:00:00' AS line_item_usage_start_date,
        TIMESTAMP '2025-01-03 11:00:00' AS line_item_usage_end_date,
        'AWS Activate Credits' AS line_item_line_item_description, 'USD' AS line_item_currency_code)
"""


def test_spend_groups_add_up_to_the_period_totals_on_real_data() -> None:
    summary = summarise_export(WA_NOV, tag_keys=("department",))

    (period,) = summary.periods
    assert period.cost == sum((group.cost for group in summary.spend), Decimal(0))
    assert period.row_count == sum(group.row_count for group in summary.spend) == 124_340
    assert period.cost == Decimal("3505.3269681268")  # SOURCE.md: 3,505.33 USD


def test_real_legacy_cur_spend_is_split_by_a_requested_tag() -> None:
    spend = aggregate_spend(WA_NOV, tag_keys=("department", "environment"))

    departments = {dict(group.tags)["department"] for group in spend}
    assert {"CentralIT", "Sales", "Analytics", "Finance", "Marketing", None} <= departments
    assert {key for group in spend for key, _ in group.tags} == {"department", "environment"}
    ec2 = [g for g in spend if g.service == "AmazonEC2"]
    assert {kind for g in ec2 for kind in g.cost_by_kind} == {ChargeKind.USAGE, ChargeKind.PURCHASE}


def test_real_focus_tags_are_read_from_the_json_column_with_trimmed_keys() -> None:
    spend = aggregate_spend(FOCUS_SAMPLE, tag_keys=("business_unit", "org"))

    values = {key: {dict(g.tags)[key] for g in spend} for key in ("business_unit", "org")}
    assert "PasadenaAI" in values["business_unit"]
    assert "trey" in values["org"]  # the sample writes both "org" and " org"


def test_cur_2_0_map_tags_and_cost_categories_group_spend(tmp_path: Path) -> None:
    path = write_sql_file(SYNTHETIC_CUR2, tmp_path / "synthetic_cur2.parquet")

    summary = summarise_export(path, tag_keys=("team",), cost_category_keys=("Department",))

    by_team = {dict(g.tags)["team"]: g for g in summary.spend}
    payments, untagged = by_team["payments"], by_team[None]
    assert payments.cost == Decimal("1.8")
    assert payments.cost_of(ChargeKind.USAGE) == Decimal(2)
    assert payments.cost_of(ChargeKind.DISCOUNT) == Decimal("-0.2")
    assert payments.cost_categories == (("Department", "Finance"),)
    assert untagged.cost == Decimal(1)  # 2 of usage with a blank tag, -1 of credit
    assert untagged.cost_of(ChargeKind.CREDIT) == Decimal(-1)
    assert payments.usage_account_name == "dev"
    assert payments.billing_period_start == datetime(2025, 1, 1, tzinfo=UTC)
    assert summary.credits[0].applied_amount == Decimal(1)


def test_an_aws_generated_tag_is_asked_for_by_its_aws_prefix(tmp_path: Path) -> None:
    path = write_sql_file(SYNTHETIC_CUR2, tmp_path / "synthetic_cur2.parquet")

    spend = aggregate_spend(path, tag_keys=("aws_createdBy",))

    assert {dict(g.tags)["aws_createdBy"]: g.cost for g in spend} == {"robot": Decimal("1.25"), None: Decimal("1.55")}


def test_asking_for_too_many_keys_hits_the_named_limit() -> None:
    keys = tuple(f"tag{i}" for i in range(GROUP_KEYS_MAX + 1))

    with pytest.raises(LimitExceeded) as caught:
        aggregate_spend(FOCUS_SAMPLE, tag_keys=keys)

    assert caught.value.maximum == GROUP_KEYS_MAX


def test_progress_is_reported_against_the_parquet_row_count() -> None:
    calls: list[tuple[int, int | None]] = []

    summarise_export(WA_NOV, on_progress=lambda done, total: calls.append((done, total)))

    assert calls[0] == (0, 124_340)
    assert calls[-1] == (124_340, 124_340)


def test_cur_2_0_csv_reads_its_map_columns_from_json_text(tmp_path: Path) -> None:
    sql = f"SELECT * REPLACE (to_json(resource_tags)::VARCHAR AS resource_tags) FROM ({SYNTHETIC_CUR2})"
    path = write_sql_file(sql, tmp_path / "synthetic_cur2.csv")

    spend = aggregate_spend(path, tag_keys=("team",))

    assert {dict(g.tags)["team"]: g.cost for g in spend} == {"payments": Decimal("1.8"), None: Decimal(1)}


def test_legacy_cur_csv_tag_columns_are_read_by_their_user_key(tmp_path: Path) -> None:
    path = with_synthetic_rows(
        CUR1_CSV_SAMPLE,
        tmp_path / "synthetic_tagged.csv",
        [
            {
                "resourceTags/user:team": "'payments'",
                "resourceTags/aws:createdBy": "'robot'",
                "lineItem/UnblendedCost": "'2'",
            }
        ],
    )

    spend = aggregate_spend(path, tag_keys=("team", "aws:createdBy"))
    tagged = next(item for item in iter_line_items(path) if item.tags)

    assert [g.cost for g in spend if dict(g.tags)["team"] == "payments"] == [Decimal(2)]
    assert {dict(g.tags)["aws:createdBy"] for g in spend} == {"robot", None}
    assert tagged.tags == {"team": "payments", "aws:createdBy": "robot"}


@pytest.mark.parametrize("path", [WA_NOV, FOCUS_SAMPLE], ids=["legacy-cur", "focus"])
def test_allocated_spend_is_the_spend_groups_summed_per_label(path: Path) -> None:
    def label(key: AllocationKey) -> str:
        department = dict(key.tags).get("department") or dict(key.tags).get("business_unit")
        return f"{key.usage_account_id}/{department}" if department else "rest"

    tags, categories = ("department", "business_unit"), ("team",)
    groups = summarise_export(path, tag_keys=tags, cost_category_keys=categories).spend
    summary = summarise_export(path, tag_keys=tags, cost_category_keys=categories, allocate=label)

    expected: dict[tuple[object, ...], list[Decimal]] = {}
    for g in groups:
        key = AllocationKey(g.usage_account_id, g.tags, g.cost_categories)
        sums = expected.setdefault((g.billing_period_start, label(key), g.service, g.currency), [Decimal(0)] * 2)
        sums[0] += g.cost
        sums[1] += g.cost_of(ChargeKind.CREDIT)
    allocated = {
        (a.billing_period_start, a.label, a.service, a.currency): [a.cost, a.credit_cost] for a in summary.allocated
    }
    assert summary.spend == ()
    assert allocated == expected
    assert sum(a.row_count for a in summary.allocated) == summary.row_count


def test_allocation_sees_each_distinct_account_and_key_values_once(tmp_path: Path) -> None:
    path = write_sql_file(SYNTHETIC_CUR2, tmp_path / "synthetic_cur2.parquet")
    seen: list[AllocationKey] = []

    def label(key: AllocationKey) -> str:
        seen.append(key)
        return dict(key.tags)["team"] or "untagged"

    summary = summarise_export(path, tag_keys=("team",), cost_category_keys=("Department",), allocate=label)

    assert len(seen) == len(set(seen)) == 2
    assert set(seen) == {
        AllocationKey("000000000042", (("team", None),), (("Department", None),)),
        AllocationKey("000000000042", (("team", "payments"),), (("Department", "Finance"),)),
    }
    by_label = {a.label: a for a in summary.allocated}
    assert by_label["payments"].cost_before_credits == Decimal("1.8")
    assert (by_label["untagged"].cost, by_label["untagged"].credit_cost) == (Decimal(1), Decimal(-1))
    assert by_label["untagged"].cost_before_credits == Decimal(2)
