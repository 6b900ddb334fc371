"""Term commitments over pure rating: small tables, the terms in several time zones, and
properties (the true-up plus the term's spend covers the commitment; nothing counts twice)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawdown.domain.commitments import TermInvoice, closing_term, term_period
from drawdown.domain.contracts import MinimumCommit, PercentDiscount, TermCommit
from drawdown.domain.errors import InvalidField
from drawdown.domain.explanations import document, text
from drawdown.domain.instants import calendar_period, month_period
from drawdown.domain.invoices import Invoice, LineKind, RatingInput, apply_credits, rate
from tests.unit.invoicing import BOOK, ISSUED, PERIOD, USD, contract, dollars, grant, usage

D = Decimal
UTC_ZONE = ZoneInfo("UTC")
Q3 = TermCommit("q3-300", D(300), "2026-08", "2026-11")  # August to October; October is the last month
YEAR = TermCommit("fy-300", D(300), "2026-08", "2027-08")  # October is not its last month
MIN50 = MinimumCommit("min-50", D(50))


def earlier(month: str, spend: str, *, voided: bool = False, invoice_id: str | None = None) -> TermInvoice:
    period = month_period(month, UTC_ZONE)
    return TermInvoice(invoice_id or f"inv-{month}", period, int(D(spend) * 10**6), voided)


def rated(quantities: dict[str, str], rules: dict[str, object], invoices: tuple[TermInvoice, ...] = ()) -> Invoice:
    inp = RatingInput("acme", USD, PERIOD, "UTC", ISSUED, BOOK, contract(**rules), usage(**quantities),
                      term_invoices=invoices)  # fmt: skip
    return apply_credits(rate(inp), [])


def lines_of(inv: Invoice) -> dict[str, str]:
    return {line.product: dollars(line.net_units) for line in inv.lines}


AUG, SEP, JUL = "2026-08", "2026-09", "2026-07"

# name, October usage, contract rules, earlier invoices, {product: net}, amount due
TERM_TABLE = [
    ("shortfall at term end: one term true-up line",
     {"api": "1000"}, {"term_commit": Q3}, (earlier(AUG, "50"), earlier(SEP, "100")),
     {"api": "10.00", "term_commit": "140.00"}, "150.00"),
    ("spend meets the commitment: no line",
     {"api": "1000"}, {"term_commit": Q3}, (earlier(AUG, "200"), earlier(SEP, "100")),
     {"api": "10.00"}, "10.00"),
    ("not the term's last month: no line, however short",
     {"api": "1000"}, {"term_commit": YEAR}, (earlier(AUG, "0"), earlier(SEP, "0")),
     {"api": "10.00"}, "10.00"),
    ("with a per-period minimum: this month's minimum true-up counts, the term charges only the rest",
     {"api": "1000"}, {"commit": MIN50, "term_commit": Q3}, (earlier(AUG, "50"), earlier(SEP, "50")),
     {"api": "10.00", "minimum_commit": "40.00", "term_commit": "150.00"}, "200.00"),
    ("with a per-period minimum that already covers the term: no term line",
     {"api": "1000"}, {"commit": MIN50, "term_commit": TermCommit("q3-150", D(150), AUG, "2026-11")},
     (earlier(AUG, "50"), earlier(SEP, "50")),
     {"api": "10.00", "minimum_commit": "40.00"}, "50.00"),
    ("a voided invoice in the term counts nothing",
     {"api": "1000"}, {"term_commit": Q3}, (earlier(AUG, "100", voided=True), earlier(SEP, "100")),
     {"api": "10.00", "term_commit": "190.00"}, "200.00"),
    ("a voided month billed again counts once, the new invoice",
     {"api": "1000"}, {"term_commit": Q3},
     (earlier(AUG, "100", voided=True), earlier(AUG, "80", invoice_id="inv-aug-again"), earlier(SEP, "100")),
     {"api": "10.00", "term_commit": "110.00"}, "120.00"),
    ("invoices before the term count nothing",
     {"api": "1000"}, {"term_commit": Q3}, (earlier(JUL, "500"), earlier(SEP, "100")),
     {"api": "10.00", "term_commit": "190.00"}, "200.00"),
    ("spend counts after discounts",
     {"api": "10000"}, {"term_commit": Q3, "discounts": (PercentDiscount("all-10", D(10)),)},
     (earlier(AUG, "100"), earlier(SEP, "100")),
     {"api": "90.00", "term_commit": "10.00"}, "100.00"),
    ("a one-month term is trued up on its only invoice",
     {"api": "1000"}, {"term_commit": TermCommit("oct", D(25), "2026-10", "2026-11")}, (),
     {"api": "10.00", "term_commit": "15.00"}, "25.00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "quantities", "rules", "invoices", "lines", "due"), TERM_TABLE, ids=[r[0] for r in TERM_TABLE]
)
def test_term_commitments(
    name: str,
    quantities: dict[str, str],
    rules: dict[str, object],
    invoices: tuple[TermInvoice, ...],
    lines: dict[str, str],
    due: str,
) -> None:
    inv = rated(quantities, rules, invoices)
    assert lines_of(inv) == lines
    assert dollars(inv.amount_due_units) == due


def test_the_explanation_names_the_rule_version_term_commitment_spend_per_invoice_and_shortfall() -> None:
    inv = rated({"api": "1000"}, {"term_commit": Q3}, (earlier(AUG, "50"), earlier(SEP, "100")))
    doc = document(inv)
    term = doc["term_commit"]
    assert (term["rule"], term["contract"], term["contract_version"]) == ("q3-300", "acme@v1", 1)
    assert term["term"] == {"start": "2026-08", "end": "2026-11", "start_at": "2026-08-01T00:00:00+00:00",
                            "end_at": "2026-11-01T00:00:00+00:00"}  # fmt: skip
    assert [(i["invoice"], i["spend"]) for i in term["invoices"]] == [
        ("inv-2026-08", "50.00"), ("inv-2026-09", "100.00"), (None, "10.00")
    ]  # fmt: skip
    assert (term["committed"], term["spend"], term["shortfall"], term["true_up_line"]) == ("300.00", "160.00",
                                                                                            "140.00", 2)  # fmt: skip
    line = doc["lines"][1]
    assert (line["kind"], line["price"]["source"]) == ("term_true_up", "contract:acme@v1:q3-300")
    words = text(doc)
    assert "term commitment 300.00 USD by rule q3-300 (contract acme@v1, v1) over the term 2026-08 to 2026-11" in words
    assert "invoice inv-2026-09 for the period from 2026-09-01T00:00:00+00:00: 100.00 USD" in words
    assert "term spend 160.00 USD, shortfall 140.00 USD: term true-up on line 2" in words


def test_a_met_commitment_is_still_explained_and_earlier_months_carry_no_term_section() -> None:
    met = document(rated({"api": "1000"}, {"term_commit": Q3}, (earlier(AUG, "300"),)))
    assert (met["term_commit"]["shortfall"], met["term_commit"]["true_up_line"]) == ("0.00", None)
    assert "meets the commitment: no term true-up" in text(met)
    assert "term_commit" not in document(rated({"api": "1000"}, {"term_commit": YEAR}))


def test_grants_pay_the_term_true_up_when_their_scope_covers_it_and_rebates_ignore_it() -> None:
    inp = RatingInput("acme", USD, PERIOD, "UTC", ISSUED, BOOK, contract(term_commit=Q3), usage(api="1000"))
    inv = apply_credits(rate(inp), [grant("g1", "100", "products:api"), grant("g2", "500")])
    term_line = next(line for line in inv.lines if line.kind is LineKind.TERM_TRUE_UP)
    assert [(d.grant_id, dollars(d.amount_units)) for d in term_line.credits] == [("g2", "290.00")]
    assert inv.commit_spend_units == 10_000_000  # the term true-up is never spend itself


TERMS_IN_ZONES = [
    # zone, term start, term end, its UTC start, its UTC end, the last month
    ("America/New_York", "2026-03", "2026-11", "2026-03-01T05:00:00+00:00", "2026-11-01T04:00:00+00:00", "2026-10"),
    ("America/New_York", "2026-03", "2026-12", "2026-03-01T05:00:00+00:00", "2026-12-01T05:00:00+00:00", "2026-11"),
    ("Europe/London", "2026-01", "2026-04", "2026-01-01T00:00:00+00:00", "2026-03-31T23:00:00+00:00", "2026-03"),
    ("Australia/Sydney", "2026-04", "2026-10", "2026-03-31T13:00:00+00:00", "2026-09-30T14:00:00+00:00", "2026-09"),
    ("Asia/Kolkata", "2028-02", "2028-03", "2028-01-31T18:30:00+00:00", "2028-02-29T18:30:00+00:00", "2028-02"),
]


@pytest.mark.parametrize(("tz", "start", "end", "start_at", "end_at", "last"), TERMS_IN_ZONES)
def test_terms_are_local_billing_months_across_dst_and_leap_days(
    tz: str, start: str, end: str, start_at: str, end_at: str, last: str
) -> None:
    zone = ZoneInfo(tz)
    commit = TermCommit("t", D(1), start, end)
    term = term_period(commit, zone)
    assert (term.start.isoformat(), term.end.isoformat()) == (start_at, end_at)
    assert term.start == month_period(start, zone).start
    c = contract(term_commit=commit)
    assert closing_term(c, month_period(last, zone), zone) == term
    month_before = calendar_period(month_period(last, zone).start - timedelta(hours=1), "month", zone)
    assert closing_term(c, month_before, zone) is None


@pytest.mark.parametrize(
    ("start", "end"), [("2026-05", "2026-05"), ("2026-06", "2026-05"), ("2026-13", "2027-01"), ("26-01", "2027-01"),
                       ("2026-01", "2036-02")],
)  # fmt: skip
def test_a_term_is_one_to_120_whole_months(start: str, end: str) -> None:
    with pytest.raises(InvalidField):
        TermCommit("t", D(1), start, end)


# -- properties ------------------------------------------------------------------------------

TERM_MONTHS = [f"2025-{m:02d}" for m in range(11, 13)] + [f"2026-{m:02d}" for m in range(1, 10)]  # Nov 2025 – Sep 2026
cents = st.integers(0, 10**7)
stored = st.lists(
    st.tuples(st.sampled_from([*TERM_MONTHS, "2025-10", "2026-11"]), cents, st.booleans()), max_size=20
)  # months of the term, one before it and one after it; voided or not


@given(
    committed=cents,
    per_period=st.none() | cents,
    api=st.integers(0, 10**6),
    rows=stored,
)
def test_the_term_true_up_plus_the_term_spend_covers_the_commitment_and_nothing_counts_twice(
    committed: int, per_period: int | None, api: int, rows: list[tuple[str, int, bool]]
) -> None:
    invoices, finalized = [], set()
    for n, (month, spend, voided) in enumerate(rows):
        if not voided and month in finalized:
            continue  # the store keeps one finalized invoice per month; voided ones may repeat
        finalized |= set() if voided else {month}
        invoices.append(TermInvoice(f"inv{n}", month_period(month, UTC_ZONE), spend * 10_000, voided))
    commit = TermCommit("fy", D(committed).scaleb(-2), "2025-11", "2026-11")
    floor = None if per_period is None else MinimumCommit("min", D(per_period).scaleb(-2))
    inv = rated({"api": str(api)}, {"term_commit": commit, "commit": floor}, tuple(invoices))
    term = inv.term
    assert term is not None
    true_up = sum(line.net_units for line in inv.lines if line.kind is LineKind.TERM_TRUE_UP)
    assert true_up + term.spend_units >= term.committed_units
    assert true_up == max(term.committed_units - term.spend_units, 0)
    counted_ids = [i.invoice_id for i in term.counted]
    assert len(counted_ids) == len(set(counted_ids))
    assert len({i.period for i in term.counted}) == len(counted_ids)
    expected = sum(i.spend_units for i in invoices if not i.voided and i.period.start.strftime("%Y-%m") in TERM_MONTHS)
    assert term.spend_units == expected + inv.commit_spend_units
    assert inv.total("net_units") == inv.commit_spend_units + true_up
