"""Invoices end to end on SQLite and PostgreSQL: finalize, replay, void, credit notes, late usage, runs."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from drawdown.book import Book
from drawdown.domain.errors import (
    CreditNoteTooLarge,
    InvalidPeriod,
    InvoiceAlreadyVoided,
    InvoiceOutOfOrder,
)
from drawdown.domain.instants import to_micros
from drawdown.storage.schema import invoices
from tests.conftest import FixedClock

PRICES: list[dict[str, Any]] = [
    {"product": "api", "category": "usage", "model": "per_unit", "unit_price": "0.01"},
    {"product": "gpu", "category": "usage", "model": "graduated",
     "tiers": [{"up_to": "100", "unit_price": "1"}, {"up_to": None, "unit_price": "0.5"}]},
    {"product": "storage", "category": "usage", "model": "per_unit", "unit_price": "0.10"},
    {"product": "seat", "category": "license", "model": "per_unit", "unit_price": "20"},
]  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def setup(book: Book, clock: FixedClock, *, time_zone: str = "UTC") -> None:
    clock.at = at("2026-09-01T00:00:00")
    book.publish_price_book("default", "USD", PRICES, effective_at=at("2026-01-01T00:00:00"))
    book.create_account("acme", currency="USD", time_zone=time_zone)


def use(book: Book, *events: tuple[str, str, str, str]) -> None:
    book.record_usage("acme", [{"event_id": e, "product": p, "quantity": q, "occurred_at": t} for e, p, q, t in events])


def test_seed_a_100_dollar_invoice_with_a_50_dollar_meter_credit_leaves_50_to_pay(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.issue_grant("acme", "50", "USD", scope="products:api,gpu", reason_code="welcome")
    use(book, ("e1", "api", "3000", "2026-10-03T10:00:00+00:00"), ("e2", "api", "2000", "2026-10-20T10:00:00+00:00"),
        ("e3", "storage", "500", "2026-10-21T10:00:00+00:00"))  # fmt: skip
    assert book.record_usage("acme", [{"event_id": "e1", "product": "api", "quantity": "3000"}]) == 0  # a repeat
    clock.at = at("2026-11-01T06:00:00")
    inv = book.finalize_invoice("acme", "2026-10")
    assert inv.document["totals"] == {
        "subtotal": "100.00", "discounts": "0.00", "net": "100.00", "credits": "50.00", "amount_due": "50.00"
    }  # fmt: skip
    words = inv.explain()
    assert "usage/api: quantity 5000 from 2 events" in words
    assert "scope products:api,gpu; reason welcome" in words
    api = inv.document["lines"][0]
    assert (api["product"], api["credits"][0]["amount"], api["credits"][0]["position"]) == ("api", "50.00", 1)
    assert book.balance("acme").consumed_units == 50_000_000
    assert book.verify().ok


def test_finalizing_twice_returns_the_same_invoice_and_the_table_refuses_a_second(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.issue_grant("acme", "5", "USD", reason_code="test")
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-02T00:00:00")
    first = book.finalize_invoice("acme", "2026-10")
    again = book.finalize_invoice("acme", "2026-10")
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    assert book.balance("acme").consumed_units == 5_000_000
    row = {
        "id": "inv_dup", "account_id": "acme", "period_start": to_micros(first.period.start), "period_end": 1,
        "currency": "USD", "status": "finalized", "subtotal_units": 0, "credits_units": 0, "amount_due_units": 0,
        "usage_cutoff": 0, "document": "{}", "finalized_at": 0,
    }  # fmt: skip
    with pytest.raises(IntegrityError), book.engine.begin() as conn:
        conn.execute(insert(invoices).values(row))


def test_a_preview_writes_nothing_and_matches_the_finalized_document(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.issue_grant("acme", "3", "USD", reason_code="test")
    use(book, ("e1", "gpu", "150", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    head = book.verify().head_seq
    preview = book.preview_invoice("acme", "2026-10")
    assert book.verify().head_seq == head
    assert preview.amount_due.units == 122_000_000
    assert book.finalize_invoice("acme", "2026-10").canonical_json() == preview.canonical_json()


def test_the_period_must_end_before_finalizing_and_invoices_go_in_period_order(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    clock.at = at("2026-10-31T23:00:00")
    with pytest.raises(InvalidPeriod):
        book.finalize_invoice("acme", "2026-10")
    clock.at = at("2026-12-01T00:00:00")
    book.finalize_invoice("acme", "2026-11")
    with pytest.raises(InvoiceOutOfOrder):
        book.finalize_invoice("acme", "2026-10")


def test_voiding_reinstates_the_credits_the_invoice_drew(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.issue_grant("acme", "20", "USD", reason_code="test")
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    inv = book.finalize_invoice("acme", "2026-10")
    assert book.balance("acme").available_units == 10_000_000
    voided = book.void_invoice(inv.id or "", reason="billed the wrong entity")
    assert (voided.status, voided.outstanding.units) == ("voided", 0)
    assert book.balance("acme").available_units == 20_000_000
    with pytest.raises(InvoiceAlreadyVoided):
        book.void_invoice(inv.id or "", reason="again")
    kinds = [tx.kind for tx in book.ledger("acme")]
    assert kinds[-2:] == ["invoice", "invoice_void"]
    assert book.verify().ok


def test_credit_that_expired_since_the_invoice_lapses_again_when_the_invoice_is_voided(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.issue_grant("acme", "20", "USD", reason_code="test", expires_at=at("2026-11-15T00:00:00"))
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    inv = book.finalize_invoice("acme", "2026-10")
    clock.at = at("2026-11-20T00:00:00")
    book.expire_due()
    book.void_invoice(inv.id or "", reason="dispute")
    bal = book.balance("acme")
    assert (bal.available_units, bal.consumed_units, bal.expired_units) == (0, 0, 20_000_000)


def test_credit_notes_correct_an_invoice_without_editing_it(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    inv = book.finalize_invoice("acme", "2026-10")
    book.issue_credit_note(inv.id or "", "4.00", reason="goodwill")
    after = book.invoice(inv.id or "")
    assert (after.amount_due.units, after.outstanding.units, after.document) == (10_000_000, 6_000_000, inv.document)
    with pytest.raises(CreditNoteTooLarge):
        book.issue_credit_note(inv.id or "", "6.01", reason="too much")


def test_late_usage_for_a_finalized_month_is_an_adjustment_on_the_next_invoice(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    use(book, ("e1", "gpu", "80", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    october = book.finalize_invoice("acme", "2026-10")
    clock.at = at("2026-11-05T00:00:00")
    use(book, ("late", "gpu", "50", "2026-10-30T10:00:00+00:00"), ("e2", "api", "100", "2026-11-03T10:00:00+00:00"))
    clock.at = at("2026-12-01T00:00:00")
    november = book.finalize_invoice("acme", "2026-11")
    lines = {(line["kind"], line["product"]): line for line in november.document["lines"]}
    late = lines[("adjustment", "gpu")]
    # 20 more units at $1 finish October's first tier, 30 at $0.5 go into the second
    assert (late["quantity"], late["amount"], late["origin_period_start"]) == (
        "50",
        "35.00",
        "2026-10-01T00:00:00+00:00",
    )
    assert october.document["totals"]["amount_due"] == "80.00"
    assert book.invoice(october.id or "").document == october.document


def test_contract_amendments_keep_history_and_old_periods_use_the_version_then_in_force(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.amend_contract(
        "acme", {"discounts": [{"rule": "all-10", "percent": "10"}]}, effective_at=at("2026-09-01T00:00:00")
    )
    book.amend_contract(
        "acme", {"discounts": [{"rule": "all-20", "percent": "20"}], "quantities": {"seat": "2"}},
        effective_at=at("2026-10-01T00:00:00"),
    )  # fmt: skip
    use(book, ("e1", "api", "1000", "2026-09-03T10:00:00+00:00"), ("e2", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    september = book.finalize_invoice("acme", "2026-09").document
    october = book.finalize_invoice("acme", "2026-10").document
    assert (september["contract"], september["lines"][0]["discount"]["rule"]) == ("acme@v1", "all-10")
    assert (october["contract"], october["totals"]["amount_due"]) == ("acme@v2", "40.00")


def test_rebates_and_sla_credits_are_issued_as_grants_after_finalization(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    terms = {
        "rebates": [{"rule": "rebate-10", "threshold": "100", "percent": "10"}],
        "sla": [{"rule": "sla-gpu", "products": ["gpu"], "steps": [{"below_percent": "99.9", "credit_percent": "10"}]}],
    }
    book.amend_contract("acme", terms, effective_at=at("2026-09-01T00:00:00"))
    use(book, ("e1", "gpu", "300", "2026-10-03T10:00:00+00:00"))
    book.record_availability("acme", "gpu", "99.5", "INC-42", occurred_at="2026-10-10T00:00:00+00:00")
    clock.at = at("2026-11-01T00:00:00")
    inv = book.finalize_invoice("acme", "2026-10")
    assert inv.document["totals"]["amount_due"] == "200.00"
    issued = {v.state.grant.reason_code: v.state.grant for v in book.grants("acme")}
    assert issued["rebate:rebate-10"].amount_units == 10_000_000
    sla = issued["sla:sla-gpu"]
    assert (sla.amount_units, sla.external_ref, sla.scope.describe(), str(sla.source)) == (
        20_000_000, "INC-42", "products:gpu", "sla"
    )  # fmt: skip


def test_an_invoice_run_twice_creates_no_second_invoice(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.create_account("beta", currency="USD", time_zone="Europe/Paris")
    book.create_account("euro", currency="EUR")  # the default price book is in USD: cannot be rated
    book.issue_grant("acme", "4", "USD", reason_code="test")
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-02T00:00:00")
    seen: list[tuple[int, int]] = []
    first = book.run_invoices("2026-10", on_progress=lambda done, total: seen.append((done, total)))
    second = book.run_invoices("2026-10")
    assert (first.finalized, first.already_finalized, first.failed) == (2, 0, {"euro": "unit_mismatch"})
    assert (second.finalized, second.already_finalized) == (0, 2)
    assert seen[-1] == (3, 3)
    acme = book.finalize_invoice("acme", "2026-10")
    assert (acme.replayed, acme.document["totals"]["amount_due"]) == (True, "6.00")
    assert book.balance("acme").consumed_units == 4_000_000


def test_usage_is_billed_in_the_month_of_the_accounts_time_zone_across_dst(book: Book, clock: FixedClock) -> None:
    setup(book, clock, time_zone="Europe/Paris")
    # 22:30 UTC on 31 Oct is 23:30 in Paris (CET after the 25 Oct change): still October.
    use(book, ("oct", "api", "100", "2026-10-31T22:30:00+00:00"), ("nov", "api", "200", "2026-10-31T23:30:00+00:00"),
        ("sep", "api", "400", "2026-09-30T21:59:59+00:00"))  # fmt: skip
    clock.at = at("2026-11-02T00:00:00")
    doc = book.preview_invoice("acme", "2026-10").document
    assert doc["period"] == {"start": "2026-09-30T22:00:00+00:00", "end": "2026-10-31T23:00:00+00:00"}
    assert [line["quantity"] for line in doc["lines"]] == ["100"]


def test_an_invoice_run_never_draws_a_pooled_grant_twice(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.create_account("team-a", currency="USD", parent="acme")
    book.create_account("team-b", currency="USD", parent="acme")
    book.issue_grant("acme", "15", "USD", reason_code="pool")
    book.record_usage("team-a", [{"event_id": "a1", "product": "api", "quantity": "1000",
                                  "occurred_at": "2026-10-03T10:00:00+00:00"}])  # fmt: skip
    book.record_usage("team-b", [{"event_id": "b1", "product": "api", "quantity": "1000",
                                  "occurred_at": "2026-10-03T10:00:00+00:00"}])  # fmt: skip
    clock.at = at("2026-11-02T00:00:00")
    report = book.run_invoices("2026-10")
    assert (report.finalized, report.failed) == (3, {})
    due = [book.finalize_invoice(a, "2026-10").document["totals"]["amount_due"] for a in ("team-a", "team-b")]
    assert sorted(due) == ["0.00", "5.00"]
    assert book.balance("acme").available_units == 0
    assert book.verify().ok


def test_a_rebate_paid_as_a_credit_note_is_capped_at_what_the_invoice_owes(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    terms = {"rebates": [{"rule": "rebate-50", "threshold": "0", "percent": "50", "settlement": "credit_note"}]}
    book.amend_contract("acme", terms, effective_at=at("2026-09-01T00:00:00"))
    book.issue_grant("acme", "8", "USD", reason_code="test")
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    inv = book.finalize_invoice("acme", "2026-10")
    # spend 10.00, rebate 5.00; the invoice owes 2.00 after credits: 2.00 by credit note, 3.00 as a grant
    assert [n.amount_units for n in inv.credit_notes] == [2_000_000]
    assert inv.outstanding.units == 0
    rebate = inv.document["after_finalization"][0]
    assert (rebate["amount"], rebate["credit_note"]) == ("5.00", "2.00")
    issued = {v.state.grant.reason_code: v.state.grant.amount_units for v in book.grants("acme")}
    assert issued["rebate:rebate-50"] == 3_000_000


def test_the_same_usage_in_any_arrival_order_with_duplicates_gives_a_byte_identical_invoice(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.create_account("twin", currency="USD")
    events = [(f"e{n}", ("api", "gpu", "storage")[n % 3], f"{n}.25", f"2026-10-{1 + n % 28:02d}T10:00:00+00:00")
              for n in range(30)]  # fmt: skip
    shuffled = random.Random(7).sample(events, len(events))
    for account, arrivals in (("acme", events), ("twin", shuffled + shuffled[:10])):
        for chunk in (arrivals[:17], arrivals[17:]):
            book.record_usage(account, [
                {"event_id": f"{account}-{e}", "product": p, "quantity": q, "occurred_at": t} for e, p, q, t in chunk
            ])  # fmt: skip
    clock.at = at("2026-11-01T00:00:00")
    docs = [
        book.finalize_invoice(a, "2026-10").canonical_json().replace(f'"{a}-', '"').replace(f'"{a}"', '"X"')
        for a in ("acme", "twin")
    ]
    assert docs[0] == docs[1]
    assert '"quantity":"137.5"' in docs[0]  # api: events 0, 3, …, 27 → 135 + 10 × 0.25


def test_late_usage_is_priced_from_the_book_its_own_month_used_when_a_contract_moves_to_another_book(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    enterprise = [{"product": "api", "category": "usage", "model": "per_unit", "unit_price": "1"}]
    book.publish_price_book("enterprise", "USD", enterprise, effective_at=at("2026-01-01T00:00:00"))
    book.amend_contract("acme", {"price_book": "enterprise"}, effective_at=at("2026-11-01T00:00:00"))
    use(book, ("e1", "api", "100", "2026-10-03T10:00:00+00:00"))
    clock.at = at("2026-11-01T00:00:00")
    october = book.finalize_invoice("acme", "2026-10")
    clock.at = at("2026-11-02T00:00:00")
    use(book, ("late", "api", "100", "2026-10-03T11:00:00+00:00"))
    clock.at = at("2026-12-01T00:00:00")
    november = book.finalize_invoice("acme", "2026-11")
    assert october.document["price_book"] == "default@v1"
    late = november.document["lines"][0]
    # October was billed from the default book at $0.01; its late usage is too, not at the new book's $1
    assert (late["kind"], late["amount"], late["price"]["source"]) == ("adjustment", "1.00", "price_book:default@v1")


def test_a_month_cannot_be_skipped_after_an_invoice_so_its_usage_is_never_lost(book: Book, clock: FixedClock) -> None:
    setup(book, clock, time_zone="America/New_York")
    use(book, ("sep", "api", "100", "2026-09-03T10:00:00+00:00"))
    clock.at = at("2026-10-05T00:00:00")
    use(book, ("oct-early", "api", "1000", "2026-10-02T10:00:00+00:00"))  # recorded before September's cutoff
    book.finalize_invoice("acme", "2026-09")
    clock.at = at("2026-10-20T00:00:00")
    use(book, ("oct-late", "api", "500", "2026-10-15T10:00:00+00:00"))
    use(book, ("nov", "api", "100", "2026-11-15T10:00:00+00:00"))
    clock.at = at("2026-12-02T00:00:00")
    # finalizing November with no October invoice would bill only October's usage recorded after
    # September's cutoff (as late usage) and lose the rest: October comes first
    with pytest.raises(InvoiceOutOfOrder, match="2026-10"):
        book.finalize_invoice("acme", "2026-11")
    run = book.run_invoices("2026-11")
    assert (run.finalized, run.failed) == (0, {"acme": "invoice_out_of_order"})
    assert book.finalize_invoice("acme", "2026-10").document["totals"]["subtotal"] == "15.00"
    assert book.finalize_invoice("acme", "2026-11").document["totals"]["subtotal"] == "1.00"
