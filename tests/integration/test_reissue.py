"""Re-issuing a voided invoice's period, on SQLite and PostgreSQL: the next revision bills the
usage the voided invoice billed with the terms and credits of now; late usage stays exact."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawdown.book import Book
from drawdown.domain.errors import (
    InvalidInput,
    InvoiceCountedInTerm,
    InvoiceNotFound,
    InvoiceNotVoided,
    InvoiceSuperseded,
)
from drawdown.domain.instants import to_micros
from tests.conftest import FixedClock
from tests.integration.dump import snapshot
from tests.integration.test_invoicing import PRICES, at, setup, use
from tests.integration.test_term_commitments import MONTHS, Q3, bill, products


def lines(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [(ln["kind"], ln["product"], ln["quantity"], ln["amount"], ln["due"]) for ln in doc["lines"]]


def october(book: Book, clock: FixedClock) -> Any:
    """acme's October: 1,000 api calls and 150 gpu hours, a 5 USD grant, finalized on 2 November."""
    setup(book, clock)
    book.issue_grant("acme", "5", "USD", reason_code="welcome")
    use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"), ("e2", "gpu", "150", "2026-10-04T10:00:00+00:00"))
    clock.at = at("2026-11-02T00:00:00")
    return book.finalize_invoice("acme", "2026-10")


def credits_key(book: Book, invoice_id: str) -> str:
    (tx,) = [t for t in book.ledger("acme") if t.kind == "invoice" and t.links["invoice_id"] == invoice_id]
    return tx.idempotency_key


def test_a_reissue_with_unchanged_terms_bills_the_same_lines_as_a_new_revision_under_its_own_key(
    book: Book, clock: FixedClock
) -> None:
    original = october(book, clock)
    book.void_invoice(original.id, reason="wrong entity")
    clock.advance(hours=1)
    reissued = book.reissue_invoice(original.id, reason="billed to the right entity")
    assert (reissued.status, reissued.revision, original.revision) == ("finalized", 2, 1)
    assert reissued.id != original.id
    replaces = {"invoice": original.id, "revision": 2, "reason": "billed to the right entity"}
    expected = {**original.document, "issued_at": reissued.document["issued_at"], "replaces": replaces}
    assert reissued.document == expected  # same lines, amounts and grants drawn
    assert reissued.amount_due == original.amount_due
    assert book.balance("acme").consumed_units == 5_000_000  # drawn, reinstated, drawn again
    start = to_micros(original.period.start)
    assert credits_key(book, original.id) == f"invoice:acme:{start}"
    assert credits_key(book, reissued.id) == f"invoice:acme:{start}:r2"
    assert "revision 2: re-issues voided invoice" in reissued.explain()
    assert book.finalize_invoice("acme", "2026-10").id == reissued.id  # the period's invoice is the latest
    assert book.invoice(reissued.id).canonical_json() == reissued.canonical_json()
    assert book.verify().ok


def test_a_reissue_bills_with_the_price_book_and_contract_in_force_now(book: Book, clock: FixedClock) -> None:
    original = october(book, clock)
    book.void_invoice(original.id, reason="wrong price and terms")
    cheaper = [{**p, "unit_price": "0.005"} if p["product"] == "api" else p for p in PRICES]
    book.publish_price_book("default", "USD", cheaper, effective_at=at("2026-10-01T00:00:00"))
    book.amend_contract(
        "acme", {"discounts": [{"rule": "all-10", "percent": "10"}]},
        effective_at=at("2026-10-01T00:00:00"),
    )  # fmt: skip
    reissued = book.reissue_invoice(original.id, reason="negotiated terms")
    doc = reissued.document
    assert (doc["price_book"], doc["contract"]) == ("default@v2", "acme@v1")
    assert lines(doc) == [("usage", "api", "1000", "5.00", "0.00"), ("usage", "gpu", "150", "125.00", "112.00")]
    assert [ln["discount"]["rule"] for ln in doc["lines"]] == ["all-10", "all-10"]
    assert (original.document["totals"]["subtotal"], doc["totals"]["subtotal"]) == ("135.00", "130.00")
    assert doc["totals"]["amount_due"] == "112.00"  # 130 less 10 %, less the 5 USD grant
    assert book.verify().ok


def test_a_reissue_draws_exactly_the_credits_finalizing_would_draw_now(book: Book, clock: FixedClock) -> None:
    original = october(book, clock)
    book.void_invoice(original.id, reason="missing a prepaid grant")
    book.issue_grant("acme", "100", "USD", reason_code="prepaid", scope="products:gpu")
    would = book.preview_invoice("acme", "2026-10").document
    reissued = book.reissue_invoice(original.id, reason="apply the prepaid grant").document
    assert [ln["credits"] for ln in reissued["lines"]] == [ln["credits"] for ln in would["lines"]]
    assert reissued["totals"] == would["totals"]
    assert (original.document["totals"]["credits"], reissued["totals"]["credits"]) == ("5.00", "105.00")
    assert book.balance("acme").consumed_units == 105_000_000  # api 5 from the welcome grant, gpu 100 prepaid
    assert book.verify().ok


def test_usage_recorded_after_the_voided_invoice_is_billed_once_on_the_next_invoice_not_by_the_reissue(
    book: Book, clock: FixedClock
) -> None:
    original = october(book, clock)
    clock.at = at("2026-11-05T00:00:00")
    use(book, ("late", "api", "500", "2026-10-30T10:00:00+00:00"))
    book.void_invoice(original.id, reason="wrong entity")
    reissued = book.reissue_invoice(original.id, reason="right entity")
    assert lines(reissued.document) == lines(original.document)  # not the late 500 calls
    clock.at = at("2026-12-01T00:00:00")
    november = book.finalize_invoice("acme", "2026-11").document
    assert lines(november) == [("adjustment", "api", "500", "5.00", "5.00")]


def test_the_late_usage_a_voided_invoice_carried_is_billed_by_its_reissue_and_by_nothing_else(
    book: Book, clock: FixedClock
) -> None:
    october(book, clock)
    clock.at = at("2026-11-05T00:00:00")
    use(book, ("late-1", "gpu", "50", "2026-10-30T10:00:00+00:00"), ("nov", "api", "100", "2026-11-03T10:00:00+00:00"))
    clock.at = at("2026-12-01T00:00:00")
    november = book.finalize_invoice("acme", "2026-11")
    clock.at = at("2026-12-02T00:00:00")
    book.void_invoice(november.id, reason="wrong entity")
    use(book, ("late-2", "api", "300", "2026-10-31T10:00:00+00:00"))  # after November's cutoff
    reissued = book.reissue_invoice(november.id, reason="right entity")
    expected = [("usage", "api", "100", "1.00", "1.00"), ("adjustment", "gpu", "50", "25.00", "25.00")]
    assert lines(november.document) == lines(reissued.document) == expected  # gpu continues October's tiers
    clock.at = at("2027-01-01T00:00:00")
    december = book.finalize_invoice("acme", "2026-12").document
    assert lines(december) == [("adjustment", "api", "300", "3.00", "3.00")]  # late-2 only, once
    assert book.verify().ok


def test_reissuing_again_returns_the_replacement_and_writes_nothing(book: Book, clock: FixedClock) -> None:
    original = october(book, clock)
    book.void_invoice(original.id, reason="wrong entity")
    first = book.reissue_invoice(original.id, reason="right entity")
    before = snapshot(book.engine)
    again = book.reissue_invoice(original.id, reason="a retry")
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    assert again.document == first.document
    assert snapshot(book.engine) == before


def test_only_a_voided_invoice_that_is_the_latest_of_its_period_is_reissued(book: Book, clock: FixedClock) -> None:
    original = october(book, clock)
    with pytest.raises(InvoiceNotVoided) as not_voided:
        book.reissue_invoice(original.id, reason="too early")
    assert not_voided.value.data == {"invoice_status": "finalized"}
    book.void_invoice(original.id, reason="wrong entity")
    second = book.reissue_invoice(original.id, reason="right entity")
    with pytest.raises(InvoiceNotVoided):
        book.reissue_invoice(second.id, reason="still finalized")
    book.void_invoice(second.id, reason="wrong again")
    assert book.reissue_invoice(original.id, reason="a late retry").id == second.id  # still its replacement
    third = book.reissue_invoice(second.id, reason="right at last")
    assert (third.revision, third.document["replaces"]["invoice"]) == (3, second.id)
    with pytest.raises(InvoiceSuperseded) as superseded:
        book.reissue_invoice(original.id, reason="the period moved on")
    assert superseded.value.data == {"latest": third.id, "revision": 3}
    assert credits_key(book, third.id).endswith(":r3")
    assert [book.invoice(i).status for i in (original.id, second.id, third.id)] == ["voided", "voided", "finalized"]
    assert book.balance("acme").consumed_units == 5_000_000
    assert book.verify().ok


def test_bad_input_writes_nothing(book: Book, clock: FixedClock) -> None:
    original = october(book, clock)
    book.void_invoice(original.id, reason="wrong entity")
    before = snapshot(book.engine)
    with pytest.raises(InvalidInput):
        book.reissue_invoice(original.id, reason="")
    with pytest.raises(InvoiceNotFound):
        book.reissue_invoice("inv_ghost", reason="who?")
    assert snapshot(book.engine) == before


def test_an_invoice_run_after_a_void_does_not_reissue_the_month(book: Book, clock: FixedClock) -> None:
    original = october(book, clock)
    book.void_invoice(original.id, reason="wrong entity")
    report = book.run_invoices("2026-10")
    assert (report.finalized, report.already_finalized, report.failed) == (0, 1, {})
    assert (book.finalize_invoice("acme", "2026-10").id, book.invoice(original.id).status) == (original.id, "voided")
    reissued = book.reissue_invoice(original.id, reason="right entity")
    with book.deps.uow(write=False) as uow:  # what a run reads: each account's latest revision
        assert uow.invoices.latest_many(["acme"])["acme"].id == reissued.id
    clock.at = at("2026-12-01T00:00:00")
    assert book.run_invoices("2026-11").finalized == 1  # after a re-issue, months go on in order
    assert book.run_invoices("2026-10").already_finalized == 1
    assert book.finalize_invoice("acme", "2026-10").id == reissued.id


def test_a_term_counts_the_reissue_of_a_month_and_guards_it_like_any_finalized_invoice(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.amend_contract("acme", {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    august, _, closing = (bill(book, clock, m, api) for m, api in zip(MONTHS, ("5000", "10000", "1000"), strict=True))
    book.void_invoice(closing.id, reason="reopen the term")
    book.void_invoice(august.id, reason="wrong price")
    book.publish_price_book("default", "USD", [{**PRICES[0], "unit_price": "0.02"}, *PRICES[1:]],
                            effective_at=at("2026-08-01T00:00:00"))  # fmt: skip
    august_again = book.reissue_invoice(august.id, reason="the price in force")
    assert products(august_again.document) == {"api": "100.00"}
    october_again = book.reissue_invoice(closing.id, reason="the term with August re-issued")
    term = october_again.document["term_commit"]
    assert term["invoices"][0]["invoice"] == august_again.id  # not the voided August
    assert (term["spend"], products(october_again.document)) == ("220.00", {"api": "20.00", "term_commit": "80.00"})
    with pytest.raises(InvoiceCountedInTerm) as refused:
        book.void_invoice(august_again.id, reason="again")
    assert refused.value.data["counted_by"] == october_again.id
    assert book.verify().ok


_accounts = count()
_ready: set[str] = set()  # the stores the property test has set up
_usage = st.lists(
    st.tuples(st.sampled_from(["api", "gpu", "storage"]), st.decimals("0.001", "5000", places=3), st.integers(1, 31)),
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_usage, st.none() | st.integers(1, 90), st.integers(0, 300))
def test_void_and_reissue_with_unchanged_terms_reproduce_the_original_totals_exactly(
    book: Book, clock: FixedClock, events: list[tuple[str, Any, int]], percent: int | None, grant: int
) -> None:
    if str(book.engine.url) not in _ready:
        setup(book, clock)
        clock.at = at("2026-11-02T00:00:00")
        _ready.add(str(book.engine.url))
    account = f"p{next(_accounts)}"
    book.create_account(account, currency="USD")
    if percent is not None:
        book.amend_contract(account, {"discounts": [{"rule": "r", "percent": str(percent)}]},
                            effective_at=at("2026-01-01T00:00:00"))  # fmt: skip
    if grant:
        book.issue_grant(account, str(grant), "USD", reason_code="test")
    book.record_usage(account, [
        {"event_id": f"{account}-{n}", "product": p, "quantity": str(q),
         "occurred_at": f"2026-10-{d:02d}T10:00:00+00:00"}
        for n, (p, q, d) in enumerate(events)
    ])  # fmt: skip
    original = book.finalize_invoice(account, "2026-10")
    book.void_invoice(original.id, reason="check")
    reissued = book.reissue_invoice(original.id, reason="check")
    assert reissued.document["totals"] == original.document["totals"]
    assert lines(reissued.document) == lines(original.document)
    assert (reissued.amount_due, reissued.revision) == (original.amount_due, 2)


def test_a_month_voided_before_its_term_closed_is_not_reissued_while_the_closing_true_up_stands(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.amend_contract("acme", {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    august = bill(book, clock, "2026-08", "5000", void=True)  # 50.00, voided: the term counts nothing of it
    bill(book, clock, "2026-09", "10000")
    closing = bill(book, clock, "2026-10", "1000")
    assert products(closing.document)["term_commit"] == "190.00"  # 300 - 100 - 10: August's 50 is in it
    before = snapshot(book.engine)
    with pytest.raises(InvoiceCountedInTerm) as refused:
        book.reissue_invoice(august.id, reason="billed again")  # would bill August's 50 a second time
    assert refused.value.data["counted_by"] == closing.id
    assert snapshot(book.engine) == before
    book.void_invoice(closing.id, reason="reopen the term")
    august_again = book.reissue_invoice(august.id, reason="billed again")
    october_again = book.reissue_invoice(closing.id, reason="the term with August")
    assert october_again.document["term_commit"]["invoices"][0]["invoice"] == august_again.id
    assert products(october_again.document)["term_commit"] == "140.00"
    assert book.verify().ok
