"""Ingested usage reaches invoices through the meters: each meter bills as its product."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawdown.book import Book, open_book
from drawdown.domain import limits
from drawdown.domain.errors import InvalidField, LimitExceeded
from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import upgrade
from tests import pg
from tests.conftest import FixedClock

PRICES = [
    {"product": "api_calls", "category": "usage", "model": "per_unit", "unit_price": "0.01"},
    {"product": "gpu_seconds", "category": "usage", "model": "graduated",
     "tiers": [{"up_to": "100", "unit_price": "1"}, {"up_to": None, "unit_price": "0.5"}]},
    {"product": "peak_users", "category": "usage", "model": "per_unit", "unit_price": "2"},
]  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(key: str, kind: str, when: str, quantity: str = "1", **properties: object) -> dict[str, object]:
    return {"key": key, "account": "acme", "type": kind, "time": when + "+00:00", "quantity": quantity,
            "properties": properties}  # fmt: skip


def setup(book: Book, clock: FixedClock) -> None:
    clock.at = at("2026-10-01T00:00:00")
    book.publish_price_book("default", "USD", PRICES, effective_at=at("2026-01-01T00:00:00"))
    book.create_account("acme", currency="USD")
    book.define_meter("api_calls", event_type="request", aggregation="count", filters={"status": "ok"})
    book.define_meter("gpu_seconds", event_type="job", aggregation="sum", property="seconds")
    book.define_meter("peak_users", event_type="session", aggregation="max")


def test_meters_turn_ingested_events_into_invoice_lines_with_their_event_ids(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    clock.at = at("2026-10-20T00:00:00")
    report = book.ingest([
        event("r1", "request", "2026-10-19T10:00:00", status="ok"),
        event("r2", "request", "2026-10-19T11:00:00", status="ok"),
        event("r3", "request", "2026-10-19T12:00:00", status="error"),  # filtered out by the meter
        event("j1", "job", "2026-10-18T09:00:00", seconds=60),
        event("j2", "job", "2026-10-19T09:00:00", seconds=70),
        event("s1", "session", "2026-10-19T09:00:00", quantity="7"),
        event("s2", "session", "2026-10-19T10:00:00", quantity="5"),
    ])  # fmt: skip
    assert [r.status for r in report.results] == ["accepted"] * 7
    clock.at = at("2026-11-01T01:00:00")
    invoice = book.finalize_invoice("acme", "2026-10")
    lines = {line["product"]: line for line in invoice.document["lines"]}
    assert (lines["api_calls"]["quantity"], lines["api_calls"]["amount"]) == ("2", "0.02")
    assert (lines["gpu_seconds"]["quantity"], lines["gpu_seconds"]["amount"]) == ("130", "115.00")
    assert (lines["peak_users"]["quantity"], lines["peak_users"]["amount"]) == ("7", "14.00")
    assert invoice.document["totals"]["subtotal"] == "129.02"
    assert "r1" in invoice.explain()
    assert "r3" not in invoice.explain()


def test_a_late_event_for_an_invoiced_month_is_billed_on_the_next_invoice(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    clock.at = at("2026-10-30T00:00:00")
    book.ingest([event("j1", "job", "2026-10-29T09:00:00", seconds=80)])
    clock.at = at("2026-11-01T00:00:00")
    october = book.finalize_invoice("acme", "2026-10")
    clock.at = at("2026-11-02T00:00:00")
    book.ingest([event("j-late", "job", "2026-10-31T23:00:00", seconds=50)])  # within the 7-day cutoff
    clock.at = at("2026-12-01T00:00:00")
    november = book.finalize_invoice("acme", "2026-11")
    lines = {(line["kind"], line["product"]): line for line in november.document["lines"]}
    late = lines[("adjustment", "gpu_seconds")]
    assert (late["quantity"], late["amount"]) == ("50", "35.00")  # 20 at $1 finish October's tier, 30 at $0.5
    assert october.document["totals"]["subtotal"] == "80.00"
    assert book.invoice(october.id or "").document == october.document, "a finalized invoice never changes"


def test_a_late_event_raising_a_maximum_bills_the_rise_and_one_below_it_nothing(book: Book, clock: FixedClock) -> None:
    setup(book, clock)
    book.define_meter("users", event_type="login", aggregation="unique_count", property="user")
    users = {"product": "users", "category": "usage", "model": "per_unit", "unit_price": "3"}
    book.publish_price_book("default", "USD", [*PRICES, users], effective_at=at("2026-01-01T00:00:00"))
    clock.at = at("2026-10-30T00:00:00")
    book.ingest([
        event("s1", "session", "2026-10-28T09:00:00", quantity="7"),
        event("l1", "login", "2026-10-28T09:00:00", user="ann"),
        event("l2", "login", "2026-10-29T09:00:00", user="bob"),
    ])  # fmt: skip
    clock.at = at("2026-11-01T00:00:00")
    october = book.finalize_invoice("acme", "2026-10")
    billed = {line["product"]: line["quantity"] for line in october.document["lines"]}
    assert (billed["peak_users"], billed["users"]) == ("7", "2")
    clock.at = at("2026-11-02T00:00:00")
    book.ingest([
        event("s-late", "session", "2026-10-31T20:00:00", quantity="10"),  # the peak rises by 3
        event("s-low", "session", "2026-10-31T21:00:00", quantity="4"),  # below the peak: nothing
        event("l-ann", "login", "2026-10-31T22:00:00", user="ann"),  # a user already counted: nothing
        event("l-cy", "login", "2026-10-31T22:30:00", user="cy"),  # a new user: one more
    ])  # fmt: skip
    clock.at = at("2026-12-01T00:00:00")
    november = book.finalize_invoice("acme", "2026-11")
    late = {line["product"]: line for line in november.document["lines"] if line["kind"] == "adjustment"}
    assert (late["peak_users"]["quantity"], late["peak_users"]["amount"]) == ("3", "6.00")
    assert (late["users"]["quantity"], late["users"]["amount"]) == ("1", "3.00")
    assert "late:peak_users:2026-10" in november.explain()
    clock.at = at("2027-01-01T00:00:00")
    december = book.finalize_invoice("acme", "2026-12")
    assert not [line for line in december.document["lines"] if line["kind"] == "adjustment"], "billed once"


# -- meters the database adds up ----------------------------------------------------------------
# A count, sum or max of the events' quantity with no filter is added up by the database (one
# GROUP BY); a meter with a filter reads the events one by one. Twin meters, one of each kind,
# over the same events must bill the same quantities.

AGGREGATIONS = ("count", "sum", "max")
_accounts = itertools.count()


def define_twins(book: Book) -> None:
    prices = []
    for aggregation in AGGREGATIONS:
        book.define_meter(f"{aggregation}_db", event_type="work", aggregation=aggregation)
        book.define_meter(f"{aggregation}_py", event_type="work", aggregation=aggregation, filters={"tag": "x"})
        prices += [{"product": f"{aggregation}_{way}", "category": "usage", "model": "per_unit",
                    "unit_price": "0.000001"} for way in ("db", "py")]  # fmt: skip
    book.define_meter("rest_count", event_type="rest", aggregation="count")
    prices.append({"product": "rest_count", "category": "usage", "model": "per_unit", "unit_price": "1"})
    book.publish_price_book("default", "USD", prices, effective_at=at("2026-01-01T00:00:00"))


def billed_quantities(book: Book, account: str) -> dict[str, str]:
    return {line["product"]: line["quantity"] for line in book.preview_invoice(account, "2026-10").document["lines"]}


millionths = st.one_of(
    st.integers(1, 10**9), st.integers(limits.QUANTITY_MAX * 10**6 - 10**6, limits.QUANTITY_MAX * 10**6)
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantities=st.lists(millionths, min_size=1, max_size=12), other=st.lists(millionths, max_size=3))
def test_meters_summed_in_the_database_bill_what_the_same_meters_summed_event_by_event_bill(
    book: Book, clock: FixedClock, quantities: list[int], other: list[int]
) -> None:
    if not book.accounts(limit=1):
        clock.at = at("2026-10-01T00:00:00")
        define_twins(book)
    account = f"acct{next(_accounts)}"
    clock.at = at("2026-10-20T00:00:00")
    book.create_account(account, currency="USD")
    events = [
        {"key": f"{account}-{i}", "account": account, "type": "work", "quantity": f"{Decimal(q).scaleb(-6):f}",
         "time": (at("2026-10-19T00:00:00") + timedelta(minutes=i)).isoformat(), "properties": {"tag": "x"}}
        for i, q in enumerate(quantities)
    ] + [  # another event type: only its own meter counts it
        {"key": f"{account}-o{i}", "account": account, "type": "rest", "quantity": f"{Decimal(q).scaleb(-6):f}",
         "time": "2026-10-19T12:00:00+00:00", "properties": {"tag": "x"}}
        for i, q in enumerate(other)
    ]  # fmt: skip
    assert {r.status for r in book.ingest(events).results} == {"accepted"}
    clock.at = at("2026-11-01T01:00:00")
    billed = billed_quantities(book, account)
    expected = {"count": len(quantities), "sum": sum(quantities), "max": max(quantities)}
    for aggregation in AGGREGATIONS:
        micros = expected[aggregation] * (10**6 if aggregation == "count" else 1)
        assert Decimal(billed[f"{aggregation}_db"]) == Decimal(micros).scaleb(-6), aggregation
        assert billed[f"{aggregation}_db"] == billed[f"{aggregation}_py"], aggregation
    assert billed.get("rest_count") == (str(len(other)) if other else None)


def test_a_sum_past_what_a_64_bit_integer_holds_is_billed_exactly_by_an_invoice_run(
    book: Book, clock: FixedClock
) -> None:
    clock.at = at("2026-10-01T00:00:00")
    define_twins(book)
    book.create_account("acme", currency="USD")
    clock.at = at("2026-10-20T00:00:00")
    biggest = str(limits.QUANTITY_MAX)  # 10**18 millionths: ten of them are past 2**63
    book.ingest([event(f"w{i}", "work", f"2026-10-19T0{i}:00:00", biggest, tag="x") for i in range(10)])
    clock.at = at("2026-11-01T01:00:00")
    assert book.run_invoices("2026-10").finalized == 1
    invoice = book.finalize_invoice("acme", "2026-10")  # already finalized: the run's invoice
    lines = {line["product"]: line["quantity"] for line in invoice.document["lines"]}
    assert lines["sum_db"] == lines["sum_py"] == str(10 * limits.QUANTITY_MAX)
    assert (lines["count_db"], lines["max_db"]) == ("10", biggest)
    (reading,) = book.meter("sum_db", "acme", start="2026-10-01T00:00:00Z", end="2026-11-01T00:00:00Z", period=None)
    assert reading.value == 10 * limits.QUANTITY_MAX


def test_an_invoice_past_the_largest_amount_fails_alone_and_the_run_goes_on(book: Book, clock: FixedClock) -> None:
    clock.at = at("2026-10-01T00:00:00")
    setup(book, clock)
    book.create_account("small", currency="USD")
    clock.at = at("2026-10-20T00:00:00")
    huge = [event(f"j{i}", "job", f"2026-10-19T0{i}:00:00", seconds=limits.QUANTITY_MAX) for i in range(3)]
    book.ingest([*huge, {**event("s1", "job", "2026-10-19T00:00:00", seconds=5), "account": "small"}])
    clock.at = at("2026-11-01T01:00:00")
    with pytest.raises(LimitExceeded, match=r"at most 1000000000\.00 USD; this invoice has 1500000000050\.00 USD"):
        book.preview_invoice("acme", "2026-10")
    report = book.run_invoices("2026-10")
    assert (report.finalized, report.failed) == (1, {"acme": "limit_exceeded"})
    assert book.finalize_invoice("small", "2026-10").document["totals"]["subtotal"] == "5.00"


def test_a_rated_amount_past_the_decimal_context_is_refused_as_too_large(book: Book, clock: FixedClock) -> None:
    clock.at = at("2026-10-01T00:00:00")
    setup(book, clock)
    huge_price = [{**price, "unit_price": "1E+15"} if price["product"] == "peak_users" else price for price in PRICES]
    book.publish_price_book("default", "USD", huge_price, effective_at=at("2026-01-01T00:00:00"))
    clock.at = at("2026-10-20T00:00:00")
    book.ingest([event("s1", "session", "2026-10-19T09:00:00", quantity=str(limits.QUANTITY_MAX))])
    clock.at = at("2026-11-01T01:00:00")
    with pytest.raises(LimitExceeded, match=r"this invoice has 1\.00E\+27 USD"):  # in cents, past Decimal's 28 digits
        book.preview_invoice("acme", "2026-10")
    assert book.run_invoices("2026-10").failed == {"acme": "limit_exceeded"}


def test_a_contract_names_no_amount_past_the_limit_and_a_commit_above_an_invoices_limit_is_refused_at_rating(
    book: Book, clock: FixedClock
) -> None:
    clock.at = at("2026-10-01T00:00:00")
    setup(book, clock)
    with pytest.raises(InvalidField, match=r"commit\.amount may be at most 1,000,000,000,000,000, got 1E\+22"):
        book.amend_contract("acme", {"commit": {"rule": "min", "amount": "1E+22"}}, effective_at=clock.at)
    book.amend_contract("acme", {"commit": {"rule": "min", "amount": "2E+12"}}, effective_at=clock.at)
    clock.at = at("2026-11-01T01:00:00")
    with pytest.raises(LimitExceeded, match=r"this invoice has 2000000000000\.00 USD"):
        book.preview_invoice("acme", "2026-10")
    assert book.run_invoices("2026-10").failed == {"acme": "limit_exceeded"}


def first_ids(url: str) -> dict[str, list[str]]:
    """Each line's listed event ids, for keys whose order depends on the collation."""
    clock = FixedClock(at("2026-10-01T00:00:00"))
    with open_book(url, clock=clock) as book:
        define_twins(book)
        book.create_account("acme", currency="USD")
        clock.at = at("2026-10-20T00:00:00")
        book.ingest([event(key, "work", "2026-10-19T00:00:00", tag="x") for key in ("a1", "B1", "b-0")])
        clock.at = at("2026-11-01T01:00:00")
        lines = book.preview_invoice("acme", "2026-10").document["lines"]
    return {line["product"]: line["events"]["ids"] for line in lines}


def test_a_summed_meters_first_event_id_is_the_same_under_any_postgresql_collation(tmp_path: Path) -> None:
    url = pg.postgres_url()
    if url is None:
        pytest.skip("PostgreSQL runs under bin/test (DRAWDOWN_TEST_PG_URL is not set)")
    icu = pg.fresh_database(url, icu_locale="en-US")  # sorts a1 < B1 < b-0; code points sort B1 first
    try:
        upgrade(engine := engine_for(icu))
        engine.dispose()
        found = {"sqlite": first_ids(f"sqlite:///{tmp_path}/ids.db"), "postgresql": first_ids(icu)}
    finally:
        pg.drop_database(icu)
    assert found["sqlite"]["sum_db"] == found["postgresql"]["sum_db"] == ["B1"]
    assert found["postgresql"]["sum_py"] == ["B1", "a1", "b-0"]  # Python's sorted(), listed in full
