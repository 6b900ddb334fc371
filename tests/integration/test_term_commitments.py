"""Term commitments end to end on SQLite and PostgreSQL: a term of finalized invoices, its
true-up on the last one, the per-period minimum, amendments, voids, runs and time zones."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from drawdown.book import Book
from drawdown.domain.errors import InvoiceCountedInTerm
from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import upgrade
from drawdown.storage.schema import invoices
from tests import pg
from tests.conftest import FixedClock
from tests.integration.test_invoicing import at, setup

Q3 = {"rule": "q3-300", "amount": "300", "start": "2026-08", "end": "2026-11"}  # August to October
MIN50 = {"rule": "min-50", "amount": "50"}
MONTHS = ("2026-08", "2026-09", "2026-10")
NEXT = {"2026-08": "2026-09-01", "2026-09": "2026-10-01", "2026-10": "2026-11-01", "2026-11": "2026-12-01"}


def bill(book: Book, clock: FixedClock, month: str, api: str, *, void: bool = False) -> Any:
    """Record ``api`` calls mid-month, then finalize the month just after it ends."""
    if api != "0":
        event = {
            "event_id": f"e-{month}",
            "product": "api",
            "quantity": api,
            "occurred_at": f"{month}-15T12:00:00+00:00",
        }
        book.record_usage("acme", [event])
    clock.at = at(f"{NEXT[month]}T01:00:00")
    finalized = book.finalize_invoice("acme", month)
    if void:
        book.void_invoice(finalized.id, reason="billed in error")
    return finalized


def products(doc: dict[str, Any]) -> dict[str, str]:
    return {line["product"]: line["net"] for line in doc["lines"]}


# name, contract terms, api calls per month (Aug, Sep, Oct) at $0.01, months voided,
# October's lines, the spend counted per invoice (None: October itself)
SCENARIOS = [
    ("shortfall at term end",
     {"term_commit": Q3}, ("5000", "10000", "1000"), (),
     {"api": "10.00", "term_commit": "140.00"}, [("2026-08", "50.00"), ("2026-09", "100.00"), (None, "10.00")]),
    ("spend meets the commitment: no line",
     {"term_commit": Q3}, ("20000", "10000", "1000"), (),
     {"api": "10.00"}, [("2026-08", "200.00"), ("2026-09", "100.00"), (None, "10.00")]),
    ("per-period minimum true-ups already paid count toward the term",
     {"commit": MIN50, "term_commit": Q3}, ("2000", "10000", "1000"), (),
     {"api": "10.00", "minimum_commit": "40.00", "term_commit": "100.00"},
     [("2026-08", "50.00"), ("2026-09", "100.00"), (None, "50.00")]),
    ("a void inside the term: the voided invoice counts nothing",
     {"term_commit": Q3}, ("5000", "10000", "1000"), ("2026-08",),
     {"api": "10.00", "term_commit": "190.00"}, [("2026-09", "100.00"), (None, "10.00")]),
    ("a month without an invoice counts nothing",
     {"term_commit": Q3}, ("0", "10000", "1000"), (),
     {"api": "10.00", "term_commit": "190.00"}, [("2026-08", "0.00"), ("2026-09", "100.00"), (None, "10.00")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "terms", "calls", "voided", "october", "counted"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_term_commitment_scenarios(
    book: Book,
    clock: FixedClock,
    name: str,
    terms: dict[str, Any],
    calls: tuple[str, str, str],
    voided: tuple[str, ...],
    october: dict[str, str],
    counted: list[tuple[str | None, str]],
) -> None:
    setup(book, clock)
    book.amend_contract("acme", terms, effective_at=at("2026-08-01T00:00:00"))
    ids = {}
    for month, api in zip(MONTHS[:2], calls[:2], strict=True):
        assert "term_commit" not in book.preview_invoice("acme", month).document  # no true-up before the end
        ids[month] = bill(book, clock, month, api, void=month in voided).id
    book.record_usage("acme", [{"event_id": "e-oct", "product": "api", "quantity": calls[2],
                                "occurred_at": "2026-10-15T12:00:00+00:00"}])  # fmt: skip
    preview = book.preview_invoice("acme", "2026-10")  # the projected true-up, before the month ends
    final = bill(book, clock, "2026-10", "0")
    assert products(preview.document) == products(final.document) == october
    term = final.document["term_commit"]
    assert [(i["invoice"], i["spend"]) for i in term["invoices"]] == [
        (None if month is None else ids[month], spend) for month, spend in counted
    ]
    assert (term["contract"], term["committed"]) == ("acme@v1", "300.00")
    assert term["shortfall"] == october.get("term_commit", "0.00")
    assert book.verify().ok


AMENDMENTS = [
    # name, the amendment (effective 2026-09-15, so in force for October), October's term line, contract
    ("a lower amount decides", {"term_commit": {**Q3, "rule": "q3-250", "amount": "250"}}, "90.00", "acme@v2"),
    ("an extended term moves the true-up to its new last month",
     {"term_commit": {**Q3, "end": "2026-12"}}, None, "acme@v2"),
    ("dropping the commitment cancels the true-up", {}, None, "acme@v2"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "amendment", "true_up", "label"), AMENDMENTS, ids=[a[0] for a in AMENDMENTS])
def test_the_amendment_in_force_for_the_terms_last_month_decides(
    book: Book, clock: FixedClock, name: str, amendment: dict[str, Any], true_up: str | None, label: str
) -> None:
    setup(book, clock)
    book.amend_contract("acme", {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    bill(book, clock, "2026-08", "5000")
    book.amend_contract("acme", amendment, effective_at=at("2026-09-15T00:00:00"))  # mid-term
    bill(book, clock, "2026-09", "10000")
    october = bill(book, clock, "2026-10", "1000").document
    assert october["contract"] == label
    assert products(october).get("term_commit") == true_up
    if true_up is not None:
        term = october["term_commit"]
        assert (term["rule"], term["contract_version"], term["spend"]) == ("q3-250", 2, "160.00")
    if "term_commit" in amendment and amendment["term_commit"]["end"] == "2026-12":
        november = bill(book, clock, "2026-11", "1000").document
        assert products(november)["term_commit"] == "130.00"  # 300 - (50 + 100 + 10 + 10)
        assert len(november["term_commit"]["invoices"]) == 4


def test_an_amendment_during_the_last_month_waits_for_the_next_period(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.amend_contract("acme", {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    book.amend_contract("acme", {}, effective_at=at("2026-10-15T00:00:00"))
    for month, api in zip(MONTHS, ("5000", "10000", "1000"), strict=True):
        last = bill(book, clock, month, api)
    assert (last.document["contract"], products(last.document)["term_commit"]) == ("acme@v1", "140.00")


def test_voiding_the_terms_last_invoice_voids_its_true_up_and_credits_it_drew(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.amend_contract("acme", {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    for month in MONTHS[:2]:
        bill(book, clock, month, "5000")
    book.issue_grant("acme", "100", "USD", reason_code="prepaid", effective_at="2026-10-01T00:00:00+00:00")
    final = bill(book, clock, "2026-10", "1000")
    assert (final.document["totals"]["credits"], final.amount_due.units) == ("100.00", 100_000_000)  # 200 owed
    voided = book.void_invoice(final.id, reason="wrong term")
    assert (voided.status, voided.outstanding.units) == ("voided", 0)
    assert book.balance("acme").available_units == 100_000_000
    assert book.finalize_invoice("acme", "2026-10").id == final.id  # the month stays invoiced: no second true-up


def test_an_invoice_counted_by_a_frozen_term_true_up_is_voided_only_after_the_invoice_that_closed_the_term(
    book: Book, clock: FixedClock
) -> None:
    setup(book, clock)
    book.amend_contract("acme", {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    august, _, october = (
        bill(book, clock, month, api) for month, api in zip(MONTHS, ("5000", "10000", "1000"), strict=True)
    )
    with pytest.raises(InvoiceCountedInTerm) as refused:
        book.void_invoice(august.id, reason="billed in error")
    assert (refused.value.data["counted_by"], refused.value.data["rule"]) == (october.id, "q3-300")
    book.void_invoice(october.id, reason="reopen the term")
    assert book.void_invoice(august.id, reason="billed in error").status == "voided"


def test_an_invoice_run_trues_up_the_term_like_a_single_finalize(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.create_account("beta", currency="USD")
    for account in ("acme", "beta"):
        book.amend_contract(account, {"term_commit": Q3}, effective_at=at("2026-08-01T00:00:00"))
    for month, api in zip(MONTHS, ("5000", "10000", "1000"), strict=True):
        for account in ("acme", "beta"):
            book.record_usage(account, [{"event_id": f"{account}-{month}", "product": "api", "quantity": api,
                                         "occurred_at": f"{month}-15T12:00:00+00:00"}])  # fmt: skip
        clock.at = at(f"{NEXT[month]}T01:00:00")
        if month == "2026-10":
            assert book.run_invoices(month).finalized == 2
        else:
            book.finalize_invoice("acme", month)  # one account invoiced by hand, the other by runs
            book.run_invoices(month)
    for account in ("acme", "beta"):
        doc = book.finalize_invoice(account, "2026-10").document
        assert (products(doc), doc["term_commit"]["spend"]) == ({"api": "10.00", "term_commit": "140.00"}, "160.00")


def test_terms_follow_billing_months_in_the_accounts_time_zone_across_dst(book: Book, clock: FixedClock) -> None:
    setup(book, clock, time_zone="America/New_York")
    term = {"rule": "mar-oct", "amount": "100", "start": "2026-03", "end": "2026-11"}
    book.amend_contract("acme", {"term_commit": term}, effective_at=at("2026-01-01T00:00:00"))
    book.record_usage(
        "acme",
        [
            {"event_id": "feb", "product": "api", "quantity": "1000", "occurred_at": "2026-03-01T04:30:00+00:00"},
            {"event_id": "mar", "product": "api", "quantity": "1000", "occurred_at": "2026-03-01T05:00:00+00:00"},
            {"event_id": "oct", "product": "api", "quantity": "1000", "occurred_at": "2026-11-01T03:30:00+00:00"},
            {"event_id": "nov", "product": "api", "quantity": "1000", "occurred_at": "2026-11-01T04:00:00+00:00"},
        ],
    )  # fmt: skip  (Feb 28 23:30 EST · Mar 1 00:00 EST · Oct 31 23:30 EDT · Nov 1 00:00 EDT)
    clock.at = at("2026-12-02T00:00:00")
    months = ["2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    docs = {m: book.finalize_invoice("acme", m).document for m in months}
    term_doc = docs["2026-10"]["term_commit"]
    assert (term_doc["term"]["start_at"], term_doc["term"]["end_at"]) == (
        "2026-03-01T05:00:00+00:00", "2026-11-01T04:00:00+00:00"
    )  # fmt: skip
    assert [i["period_start"] for i in term_doc["invoices"]][:2] == [
        "2026-03-01T05:00:00+00:00", "2026-04-01T04:00:00+00:00"
    ]  # fmt: skip
    assert len(term_doc["invoices"]) == 8  # March to October; February is before the term
    assert (term_doc["spend"], products(docs["2026-10"])["term_commit"]) == ("20.00", "80.00")
    assert all("term_commit" not in docs[m] for m in months[:-1])


def test_contract_terms_round_trip_the_term_commitment(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    contract = book.amend_contract("acme", {"term_commit": Q3, "commit": MIN50})
    assert contract.term_commit is not None
    assert (contract.term_commit.rule, contract.term_commit.months) == ("q3-300", 3)


def test_migration_0007_backfills_the_spend_of_invoices_frozen_before_it(store_url: str) -> None:
    url = store_url if store_url.startswith("sqlite") else pg.fresh_database(str(pg.postgres_url()))  # empty
    engine = engine_for(url)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, currency, time_zone, drawdown_policy, pool_caps, metadata, created_at) "
            "VALUES ('old', 'USD', 'UTC', 'default', '{}', '{}', 0)"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO invoices (id, account_id, period_start, period_end, currency, status, subtotal_units, "
            "credits_units, amount_due_units, usage_cutoff, document, finalized_at) "
            "VALUES ('inv_old', 'old', 0, 1, 'USD', 'finalized', 90000000, 30000000, 45000000, 0, '{}', 0)"
        ))  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        spend = conn.execute(select(invoices.c.commit_spend_units).where(invoices.c.id == "inv_old")).scalar_one()
    assert spend == 75_000_000  # amount due 45 + credits 30: every line's net before credits
    engine.dispose()
    if url != store_url:
        pg.drop_database(url)
