"""Every real export in shared/data/cur through ``finops import`` (sources and licences:
tests/importers/README.md): only the FOCUS sample's one real credit reaches the queue."""

from __future__ import annotations

from decimal import Decimal

from drawdown.book import Book
from tests.conftest import FixedClock
from tests.importers.samples import FOCUS_SAMPLE, sample_files


def test_every_real_file_imports_once_and_only_the_focus_credit_is_queued(book: Book, clock: FixedClock) -> None:
    clock.advance(days=365 * 3)  # after every sample's billing periods (2018, 2023, 2024)
    files = sample_files()
    assert len(files) == 5

    reports = {path.name: book.finops_import(path) for path in files}
    again = [book.finops_import(path) for path in files]

    assert all(r.duplicate for r in again)
    assert {name: r.credits_new for name, r in reports.items()} == {
        path.name: int(path == FOCUS_SAMPLE) for path in files
    }
    (credit,) = book.finops_credits()
    assert (credit.usage_account_id, credit.applied, credit.queue_status) == (
        "11353890204",
        Decimal("2.6137"),
        "unallocated",
    )
    assert all(r.node_id == "unallocated" for r in book.finops_net_cost())  # no rules: all spend is unallocated
    assert sum(r.spend_units for r in book.finops_net_cost()) > 0
