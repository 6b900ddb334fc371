"""FinOps scenarios on both stores: credits allocated to a Business Unit > Department >
Portfolio > Product hierarchy, consumed first in, first out by the ledger's FIFO policy.

Every file is a copy of the real FOCUS sample; rows on accounts ``9000…`` are SYNTHETIC
(``tests/finops/synthetic.py``). Amounts are USD at scale 6 (1 USD = 1,000,000 units).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from drawdown.book import Book
from drawdown.domain.ledger import TxKind
from drawdown.services.finops_report import CreditView
from tests.conftest import FixedClock
from tests.finops.synthetic import SYN_ACCOUNT, SYN_OTHER_ACCOUNT, synthetic_credit, synthetic_focus, synthetic_usage
from tests.importers.samples import FOCUS_SAMPLE

USD = 1_000_000
NOVEMBER = datetime(2024, 11, 15, 12, 0, tzinfo=UTC)
LATER = date(2025, 6, 30)


@pytest.fixture
def finops(book: Book, clock: FixedClock) -> Book:
    """A hierarchy bu > dept > port > prod (and a second product), spend mapped by account."""
    clock.at = NOVEMBER
    book.finops_add_node("bu", level="business_unit", name="Retail")
    book.finops_add_node("dept", level="department", name="Payments", parent="bu")
    book.finops_add_node("port", level="portfolio", name="Checkout", parent="dept")
    book.finops_add_node("prod", level="product", name="Checkout API", parent="port")
    book.finops_add_node("prod2", level="product", name="Checkout Web", parent="port")
    book.finops_add_rule("r1", kind="usage_account", value=SYN_ACCOUNT, node="prod", priority=10)
    book.finops_add_rule("r2", kind="usage_account", value=SYN_OTHER_ACCOUNT, node="prod2", priority=20)
    return book


def _credit(book: Book, code: str) -> CreditView:
    return next(c for c in book.finops_credits() if c.code == code)


def _net(book: Book, node: str, period: str) -> tuple[int, int, int]:
    row = next(r for r in book.finops_net_cost() if (r.node_id, r.period) == (node, period))
    return row.spend_units, row.credits_units, row.net_units


def test_two_credits_at_one_department_the_older_is_consumed_first(finops: Book, tmp_path: Path) -> None:
    path = synthetic_focus(tmp_path, "two_credits", [
        synthetic_usage(SYN_ACCOUNT, "100"),
        synthetic_credit(SYN_ACCOUNT, "-1", "2024-08", "Synthetic older credit"),  # issued 2024-08-20
        synthetic_credit(SYN_ACCOUNT, "-1", "2024-09", "Synthetic newer credit"),  # issued 2024-09-30
    ])  # fmt: skip
    finops.finops_import(path)
    newer, older = _credit(finops, "synthetic newer credit"), _credit(finops, "synthetic older credit")
    assert (older.issue_date, newer.issue_date) == (date(2024, 8, 20), date(2024, 9, 30))

    # Allocate the newer one first: FIFO follows the issue date, not the allocation order.
    finops.finops_allocate(newer.id, node="dept", amount="60", end_date=LATER, reason="MAP tranche 2", consume=False)
    finops.finops_allocate(older.id, node="dept", amount="60", end_date=LATER, reason="MAP tranche 1", consume=False)
    assert finops.finops_consume() == 100 * USD

    older, newer = _credit(finops, "synthetic older credit"), _credit(finops, "synthetic newer credit")
    assert (older.used_units, older.remaining_units, older.status) == (60 * USD, 0, "exhausted")
    assert (newer.used_units, newer.remaining_units, newer.status) == (40 * USD, 20 * USD, "active")
    assert _net(finops, "prod", "2024-09") == (100 * USD, 100 * USD, 0)
    assert _net(finops, "bu", "2024-09") == (100 * USD, 100 * USD, 0)


def test_a_portfolio_credit_covers_product_spend_and_rolls_up(finops: Book, tmp_path: Path) -> None:
    path = synthetic_focus(tmp_path, "portfolio", [
        synthetic_usage(SYN_ACCOUNT, "100"),
        synthetic_usage(SYN_OTHER_ACCOUNT, "50"),
        synthetic_credit(SYN_ACCOUNT, "-30", "2024-09", "Synthetic portfolio credit"),
    ])  # fmt: skip
    finops.finops_import(path)
    credit = _credit(finops, "synthetic portfolio credit")
    assert credit.applied == Decimal(30)
    assert credit.queue_status == "unallocated"

    finops.finops_allocate(credit.id, node="port", amount="120", end_date=LATER, reason="portfolio budget")

    credit = _credit(finops, "synthetic portfolio credit")
    assert (credit.used_units, credit.remaining_units, credit.status) == (120 * USD, 0, "exhausted")
    # The grant is the portfolio's; the products drew it (pooled draws show on the drawing account).
    assert finops.grants("prod") == []
    assert finops.grants("prod2") == []
    assert finops.grants("port")[0].state.used_units == 120 * USD
    assert finops.balance("prod").consumed_units + finops.balance("prod2").consumed_units == 120 * USD
    spend_1, covered_1, _ = _net(finops, "prod", "2024-09")
    spend_2, covered_2, _ = _net(finops, "prod2", "2024-09")
    assert (spend_1, spend_2, covered_1 + covered_2) == (100 * USD, 50 * USD, 120 * USD)
    assert _net(finops, "port", "2024-09") == (150 * USD, 120 * USD, 30 * USD)
    assert _net(finops, "dept", "2024-09") == _net(finops, "port", "2024-09")


def test_a_credit_expiring_mid_period_covers_earlier_months_only(finops: Book, tmp_path: Path) -> None:
    path = synthetic_focus(tmp_path, "expiring", [
        synthetic_usage(SYN_ACCOUNT, "20", "2024-08"),
        synthetic_usage(SYN_ACCOUNT, "100"),
        synthetic_credit(SYN_ACCOUNT, "-1", "2024-08", "Synthetic short credit", day="05"),  # issued 2024-08-20
        synthetic_credit(SYN_ACCOUNT, "-1", "2024-09", "Synthetic long credit"),
    ])  # fmt: skip
    finops.finops_import(path)
    short, long = _credit(finops, "synthetic short credit"), _credit(finops, "synthetic long credit")

    # The short credit ends on 15 September: live at the end of August, not at the end of September.
    finops.finops_allocate(short.id, node="dept", amount="50", end_date=date(2024, 9, 15), reason="s", consume=False)
    finops.finops_allocate(long.id, node="dept", amount="200", end_date=LATER, reason="long", consume=False)
    finops.finops_consume()

    short, long = _credit(finops, "synthetic short credit"), _credit(finops, "synthetic long credit")
    assert (short.used_units, short.status) == (20 * USD, "expired")
    assert (long.used_units, long.remaining_units, long.status) == (100 * USD, 100 * USD, "active")
    assert _net(finops, "prod", "2024-08") == (20 * USD, 20 * USD, 0)
    assert _net(finops, "prod", "2024-09") == (100 * USD, 100 * USD, 0)


def test_a_restated_month_replaces_its_spend_and_the_change_is_logged(
    finops: Book, tmp_path: Path, clock: FixedClock
) -> None:
    first = synthetic_focus(tmp_path, "september", [synthetic_usage(SYN_ACCOUNT, "100")])
    restated = synthetic_focus(tmp_path, "september_restated", [
        synthetic_usage(SYN_ACCOUNT, "100"),
        synthetic_usage(SYN_ACCOUNT, "50", service="Amazon S3"),
    ])  # fmt: skip
    finops.finops_import(first)
    credit = finops.finops_credits()[0]  # the real FOCUS credit, allocated to cover the synthetic spend
    finops.finops_allocate(credit.id, node="prod", amount="500", end_date=LATER, reason="covers September")
    assert _credit(finops, credit.code).used_units == 100 * USD

    clock.advance(days=1)
    report = finops.finops_import(restated)

    assert report.periods["2024-09 USD"] == "restated"
    assert _net(finops, "prod", "2024-09") == (150 * USD, 150 * USD, 0)
    assert _credit(finops, credit.code).used_units == 150 * USD  # the difference was drawn, not 250
    with finops.engine.connect() as conn:
        from sqlalchemy import select

        from drawdown.storage.schema import finops_import_changes

        kinds = [r.kind for r in conn.execute(select(finops_import_changes).order_by("recorded_at"))]
        restatement = conn.execute(
            select(finops_import_changes).where(finops_import_changes.c.kind == "restated")
        ).one()
    assert kinds.count("restated") == 1
    assert '"rows": "1000"' in restatement.before
    assert '"rows": "1001"' in restatement.after


def test_the_same_file_imported_twice_adds_nothing(finops: Book, tmp_path: Path) -> None:
    path = synthetic_focus(tmp_path, "twice", [synthetic_usage(SYN_ACCOUNT, "100")])
    first = finops.finops_import(path)
    credit = finops.finops_credits()[0]
    finops.finops_allocate(credit.id, node="prod", amount="10", end_date=LATER, reason="ten")
    before = (finops.finops_net_cost(), finops.finops_credits(), finops.ledger("prod", limit=1000))

    second = finops.finops_import(path)

    assert (second.duplicate, second.import_id) == (True, first.import_id)
    assert (finops.finops_net_cost(), finops.finops_credits(), finops.ledger("prod", limit=1000)) == before


def test_the_real_focus_credit_is_queued_and_allocatable(finops: Book) -> None:
    finops.finops_add_rule("atlas", kind="usage_account", value="11353890204", node="prod2", priority=5)
    report = finops.finops_import(FOCUS_SAMPLE)
    assert (report.duplicate, report.credits_new) == (False, 1)

    (queued,) = finops.finops_credits()
    assert (queued.usage_account_id, queued.payer_account_id) == ("11353890204", "1234567890123")
    assert (queued.applied, queued.issue_date, queued.period) == (Decimal("2.6137"), date(2024, 9, 30), "2024-09")
    assert (queued.queue_status, queued.status, queued.grant_id) == ("unallocated", None, None)

    credit = finops.finops_allocate(
        queued.id, node="prod2", amount="2.6137", end_date=LATER, reference="MAP-2024-017", reason="OSS credit"
    )

    (grant_view,) = finops.grants("prod2")
    grant = grant_view.state.grant
    assert (str(grant.source), grant.external_ref, grant.amount_units) == ("cloud", "MAP-2024-017", 2_613_700)
    assert grant.effective_at == datetime(2024, 9, 30, tzinfo=UTC)  # the issue date, not the allocation date
    assert grant.expires_at == datetime(2025, 7, 1, tzinfo=UTC)  # the end date is inclusive
    # Atlas Orion's September spend before credits is far above 2.6137 USD: the credit is used up.
    assert (credit.used_units, credit.remaining_units, credit.status) == (2_613_700, 0, "exhausted")
    unallocated = [r for r in finops.finops_net_cost() if r.node_id == "unallocated"]
    assert unallocated
    assert all(r.credits_units == 0 for r in unallocated)


def test_allocation_and_reallocation_are_ledger_transactions_with_actor_and_reason(
    finops: Book, tmp_path: Path
) -> None:
    path = synthetic_focus(tmp_path, "realloc", [synthetic_usage(SYN_ACCOUNT, "30")])
    finops.finops_import(path)
    credit = finops.finops_credits()[0]

    first = finops.finops_allocate(credit.id, node="prod", amount="100", end_date=LATER, actor="alice", reason="MAP")
    again = finops.finops_allocate(credit.id, node="prod", amount="100", end_date=LATER, actor="alice", reason="MAP")
    moved = finops.finops_allocate(
        credit.id, node="prod2", amount="100", end_date=LATER, actor="bob", reason="belongs to web"
    )

    assert again == first
    issued = [t for t in finops.ledger("prod", limit=100) if t.kind is TxKind.GRANT_ISSUED]
    voids = [t for t in finops.ledger("prod", limit=100) if t.kind is TxKind.VOID]
    assert [(t.actor, t.reason) for t in issued] == [("alice", "MAP")]
    assert [(t.actor, t.reason) for t in voids] == [("bob", "belongs to web")]
    (new_grant,) = finops.grants("prod2")
    assert new_grant.state.grant.amount_units == 70 * USD  # what the voided grant had not used
    assert (moved.node_id, moved.grant_id, moved.used_units, moved.remaining_units) == (
        "prod2", new_grant.state.grant.id, 30 * USD, 70 * USD,
    )  # fmt: skip
    assert finops.verify().ok


def test_a_downward_restatement_keeps_what_was_drawn_and_shows_negative_net_cost(
    finops: Book, tmp_path: Path, clock: FixedClock
) -> None:
    """The ledger has no charge reversal: credit drawn for spend a restatement later removed
    stays drawn, and the report shows it rather than hiding it (docs/ARCHITECTURE.md)."""
    finops.finops_import(synthetic_focus(tmp_path, "high", [synthetic_usage(SYN_ACCOUNT, "100")]))
    credit = finops.finops_credits()[0]
    finops.finops_allocate(credit.id, node="prod", amount="500", end_date=LATER, reason="covers September")
    clock.advance(days=1)

    report = finops.finops_import(synthetic_focus(tmp_path, "low", [synthetic_usage(SYN_ACCOUNT, "60")]))

    assert report.periods["2024-09 USD"] == "restated"
    assert _net(finops, "prod", "2024-09") == (60 * USD, 100 * USD, -40 * USD)
    assert _credit(finops, credit.code).used_units == 100 * USD


def test_credits_expiring_soon_come_with_the_spend_rate_that_would_use_them(finops: Book, tmp_path: Path) -> None:
    finops.finops_import(synthetic_focus(tmp_path, "rate", [synthetic_usage(SYN_ACCOUNT, "100")]))
    credit = finops.finops_credits()[0]
    finops.finops_allocate(credit.id, node="prod", amount="500", end_date=date(2024, 12, 1), reason="short")

    (soon,) = finops.finops_expiring()

    assert soon.credit.id == credit.id
    assert soon.credit.status == "expiring"
    assert soon.expires_at == datetime(2024, 12, 2, tzinfo=UTC)
    assert soon.needed_per_day_units == 24_242_425  # 400 USD over 16.5 days, rounded up
    assert soon.recent_per_day_units == 3_333_334  # 100 USD of September spend over 30 days


def test_a_draw_interrupted_before_its_bookkeeping_is_replayed_not_repeated(
    finops: Book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drawdown.storage.finops_store import FinOpsStore

    finops.finops_import(synthetic_focus(tmp_path, "crash", [synthetic_usage(SYN_ACCOUNT, "100")]))
    credit = finops.finops_credits()[0]
    finops.finops_allocate(credit.id, node="prod", amount="500", end_date=LATER, reason="r", consume=False)
    real = FinOpsStore.add_covered

    def crash(self: FinOpsStore, key: object, units: int) -> None:
        raise RuntimeError("crashed after the ledger charge, before covered_units was updated")

    monkeypatch.setattr(FinOpsStore, "add_covered", crash)
    with pytest.raises(RuntimeError):
        finops.finops_consume()
    monkeypatch.setattr(FinOpsStore, "add_covered", real)

    assert finops.finops_consume() == 100 * USD  # the same idempotency key: the charge is replayed
    assert _credit(finops, credit.code).used_units == 100 * USD
    assert [t.kind for t in finops.ledger("prod", limit=100)].count(TxKind.CHARGE) == 1
    assert finops.finops_consume() == 0


def test_two_services_whose_names_share_their_first_255_characters_keep_their_own_spend(
    finops: Book, tmp_path: Path
) -> None:
    """Service names are stored in at most 255 characters: two long names that differ after
    that must stay two rows, or one's spend would replace the other's."""
    stem = "Synthetic service " + "x" * 240
    path = synthetic_focus(tmp_path, "long_services", [
        synthetic_usage(SYN_ACCOUNT, "100", service=stem + " alpha"),
        synthetic_usage(SYN_ACCOUNT, "50", service=stem + " beta"),
    ])  # fmt: skip
    finops.finops_import(path)
    spend = [r for r in finops.finops_net_cost() if (r.node_id, r.period) == ("prod", "2024-09")]
    assert sum(r.spend_units for r in spend) == 150 * USD
