"""Synthetic FOCUS rows appended to a copy of the real FOCUS sample (see tests/importers/samples.py).

The real sample (September 2024, 1,000 rows, one real credit) stays untouched; every row these
helpers add is SYNTHETIC, on made-up usage accounts that start with ``9000``, so the scenario
figures are round numbers while the file keeps every real column and row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.importers.samples import FOCUS_SAMPLE, with_synthetic_rows

SYN_ACCOUNT = "900000000001"
SYN_OTHER_ACCOUNT = "900000000002"


def synthetic_usage(account: str, cost: str, month: str = "2024-09", *, service: str = "Amazon EC2") -> dict[str, str]:
    """A SYNTHETIC usage row costing ``cost`` on ``account`` on the 10th of ``month``."""
    return _row(account, cost, month, "Usage", f"synthetic usage {cost}", service, day="10")


def synthetic_credit(account: str, cost: str, month: str, description: str, *, day: str = "20") -> dict[str, str]:
    """A SYNTHETIC credit row (negative ``cost``) on ``account``: the period's data then ends
    the day after ``day``, which sets the credit's export date and so its issue date."""
    return _row(account, cost, month, "Credit", description, "Amazon EC2", day=day)


def _row(
    account: str, cost: str, month: str, category: str, description: str, service: str, *, day: str
) -> dict[str, str]:
    year, number = (int(part) for part in month.split("-"))
    following = f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"
    end_day = f"{int(day) + 1:02d}"
    return {
        "ChargeCategory": f"'{category}'",
        "BilledCost": f"'{cost}'",
        "SubAccountId": f"'{account}'",
        "SubAccountName": "'Synthetic Account'",
        "ServiceName": f"'{service}'",
        "ChargeDescription": f"'{description}'",
        "BillingPeriodStart": f"'{month}-01 00:00:00'",
        "BillingPeriodEnd": f"'{following}-01 00:00:00'",
        "ChargePeriodStart": f"'{month}-{day} 00:00:00'",
        "ChargePeriodEnd": f"'{month}-{end_day} 00:00:00'",
        "Tags": "'{}'",
    }


def synthetic_focus(tmp_path: Path, name: str, rows: Sequence[dict[str, str]]) -> Path:
    """A copy of the real FOCUS sample with SYNTHETIC ``rows`` appended, named ``synthetic_*``."""
    return with_synthetic_rows(FOCUS_SAMPLE, tmp_path / f"synthetic_{name}.csv", rows)
