"""Ingested usage reaches invoices through the meters: each meter bills as its product."""

from __future__ import annotations

from datetime import UTC, datetime

from drawdown.book import Book
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
