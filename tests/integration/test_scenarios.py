"""Ledger scenarios written as small tables, run on SQLite and PostgreSQL.

Each row issues grants, charges, and states which grants pay and what is left.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from drawdown.book import Book
from drawdown.domain.errors import GrantAlreadyVoided, InsufficientCredit
from tests.conftest import FixedClock

# name, grants (label, amount, options), charge (amount, category, product), draws {label: amount}, shortfall
ORDER_TABLE = [
    ("lower priority number burns first",
     [("late", "10", {"priority": 90}), ("early", "10", {"priority": 10})], ("5", "usage", "api"), {"early": "5"}, "0"),
    ("soonest expiry burns first; never-expiring last",
     [("never", "10", {}), ("soon", "10", {"expires_in_days": 3}), ("later", "10", {"expires_in_days": 9})],
     ("15", "usage", "api"), {"soon": "10", "later": "5"}, "0"),
    ("promotional (zero cost basis) before paid",
     [("paid", "10", {"cost_basis": "1", "source": "purchased"}), ("promo", "10", {})], ("4", "usage", "api"),
     {"promo": "4"}, "0"),
    ("narrowest scope first: products, then category, then invoice",
     [("all", "10", {}), ("usage", "10", {"scope": "category:usage"}), ("api", "10", {"scope": "products:api"})],
     ("25", "usage", "api"), {"api": "10", "usage": "10", "all": "5"}, "0"),
    ("a product-scoped grant never pays another product",
     [("gpu", "10", {"scope": "products:gpu"})], ("4", "usage", "api"), {}, "4"),
    ("a category-scoped grant never pays another category",
     [("fees", "10", {"scope": "category:fixed_fee"}), ("all", "1", {})], ("4", "usage", "api"), {"all": "1"}, "3"),
    ("ties fall back to effective_at then creation order",
     [("first", "3", {}), ("second", "3", {})], ("4", "usage", "api"), {"first": "3", "second": "1"}, "0"),
    ("a grant not yet effective is never drawn",
     [("future", "10", {"effective_in_days": 1}), ("now", "2", {})], ("4", "usage", "api"), {"now": "2"}, "2"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "grants", "charge", "draws", "shortfall"), ORDER_TABLE, ids=[r[0] for r in ORDER_TABLE]
)
def test_drawdown_order(
    book: Book,
    clock: FixedClock,
    name: str,
    grants: list[tuple[str, str, dict[str, object]]],
    charge: tuple[str, str, str],
    draws: dict[str, str],
    shortfall: str,
) -> None:
    book.create_account("acme", currency="USD")
    labels = {}
    for label, amount, options in grants:
        opts = dict(options)
        if "expires_in_days" in opts:
            opts["expires_at"] = clock.now() + timedelta(days=int(opts.pop("expires_in_days")))  # type: ignore[call-overload]
        if "effective_in_days" in opts:
            opts["effective_at"] = clock.now() + timedelta(days=int(opts.pop("effective_in_days")))  # type: ignore[call-overload]
        labels[book.issue_grant("acme", amount, "USD", reason_code="test", **opts).id] = label
        clock.advance(seconds=1)
    amount, category, product = charge
    result = book.charge("acme", amount, "USD", category=category, product=product, allow_partial=True)
    assert {labels[d.grant_id]: d.amount.decimal for d in result.draws} == {k: Decimal(v) for k, v in draws.items()}
    assert result.shortfall.decimal == Decimal(shortfall)


def test_the_fifo_policy_draws_the_oldest_issue_first_whatever_the_priority(book: Book, clock: FixedClock) -> None:
    book.create_account("finops", currency="USD", drawdown_policy="fifo")
    old = book.issue_grant("finops", "10", "USD", priority=100, effective_at=clock.now() - timedelta(days=30),
                           source="cloud", reason_code="aws-credit")  # fmt: skip
    new = book.issue_grant("finops", "10", "USD", priority=1, source="cloud", reason_code="aws-credit")
    result = book.charge("finops", "12", "USD")
    assert [(d.grant_id, d.amount.units) for d in result.draws] == [(old.id, 10_000_000), (new.id, 2_000_000)]
    assert result.transaction.postings[1].detail["policy"] == "fifo"  # type: ignore[index]


def test_every_draw_records_why_its_grant_was_chosen(book: Book) -> None:
    book.create_account("acme", currency="USD")
    grant = book.issue_grant("acme", "10", "USD", priority=7, reason_code="welcome")
    result = book.charge("acme", "1", "USD", product="api")
    (history,) = [tx for tx in book.ledger("acme") if tx.id == result.transaction.id]
    why = next(p.detail for p in history.postings if p.detail)
    assert why == {
        "position": 1, "policy": "default",
        "key": {"priority": 7, "expires_at": None, "promotional": True, "scope": "invoice",
                "effective_at": grant.effective_at.isoformat(), "created_seq": grant.created_seq, "grant_id": grant.id},
    }  # fmt: skip


def test_expiry_is_exact_to_the_instant_and_posts_breakage(book: Book, clock: FixedClock) -> None:
    book.create_account("acme", currency="USD", time_zone="Europe/Paris")
    expires = clock.now() + timedelta(hours=2)
    grant = book.issue_grant("acme", "10", "USD", expires_at=expires, reason_code="trial", source="trial")
    book.charge("acme", "4", "USD")
    clock.at = expires - timedelta(microseconds=1)
    assert book.charge("acme", "1", "USD").drawn.units == 1_000_000
    clock.at = expires
    with pytest.raises(InsufficientCredit):
        book.charge("acme", "1", "USD")
    assert book.balance("acme").expired_units == 5_000_000, "expired credit shows as expired before the sweep"
    (expiry,) = book.expire_due()
    assert expiry.effective_at == expires
    assert book.expire_due() == [], "a second sweep expires nothing"
    (view,) = book.grants("acme")
    assert (view.status, view.state.used_units, view.state.expired_units) == ("expired", 5_000_000, 5_000_000)
    assert view.state.grant.id == grant.id


def test_a_void_removes_only_the_unused_remainder_and_cannot_be_repeated(book: Book) -> None:
    book.create_account("acme", currency="USD")
    grant = book.issue_grant("acme", "10", "USD", reason_code="goodwill", source="support")
    book.charge("acme", "3", "USD")
    void = book.void_grant(grant.id, reason="issued to the wrong customer")
    assert sum(p.amount for p in void.postings if p.kind == "voided") == 7_000_000
    with pytest.raises(GrantAlreadyVoided):
        book.void_grant(grant.id, reason="again")
    balance = book.balance("acme")
    assert (balance.available_units, balance.consumed_units, balance.voided_units) == (0, 3_000_000, 7_000_000)
    with pytest.raises(InsufficientCredit):
        book.charge("acme", "1", "USD")


def test_a_child_draws_its_parents_pool_up_to_its_own_sub_budget(book: Book, clock: FixedClock) -> None:
    book.create_account("corp", currency="USD", time_zone="America/New_York")
    book.create_account("team-ml", currency="USD", parent="corp", pool_caps={"USD": ("30", "day")})
    book.create_account("agent-7", currency="USD", parent="team-ml")
    pool = book.issue_grant("corp", "100", "USD", reason_code="enterprise-pool", source="purchased", cost_basis="1")
    assert book.balance("team-ml").pooled_available_units == 30_000_000
    assert book.charge("agent-7", "20", "USD").draws[0].grant_id == pool.id, "grandchildren draw the pool too"
    result = book.charge("team-ml", "25", "USD", allow_partial=True)
    assert (result.drawn.units, result.shortfall.units) == (25_000_000, 0)
    assert book.balance("team-ml").pooled_available_units == 5_000_000
    assert book.charge("team-ml", "10", "USD", allow_partial=True).drawn.units == 5_000_000
    clock.advance(days=1)
    assert book.balance("team-ml").pooled_available_units == 30_000_000, "the sub-budget resets each local day"


def test_a_grant_cap_limits_what_it_pays_per_period(book: Book, clock: FixedClock) -> None:
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "100", "USD", cap="10", cap_period="day", reason_code="allotment", source="allotment")
    assert book.charge("acme", "25", "USD", allow_partial=True).drawn.units == 10_000_000
    clock.advance(days=1)
    assert book.charge("acme", "25", "USD", allow_partial=True).drawn.units == 10_000_000


def test_custom_credit_units_keep_their_own_precision(book: Book) -> None:
    book.define_unit("AI_CREDIT", scale=3)
    book.create_account("acme", currency="EUR")
    book.issue_grant("acme", "1000.5", "AI_CREDIT", reason_code="plan")
    result = book.charge("acme", "0.125", "AI_CREDIT", product="generation")
    assert str(result.drawn) == "0.125"
    assert book.balance("acme", "AI_CREDIT").available_units == 1_000_375


def test_balance_as_of_a_past_instant_lists_the_ledger_lines_behind_it(book: Book, clock: FixedClock) -> None:
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "10", "USD", reason_code="a")
    before = clock.advance(hours=1)
    clock.advance(hours=1)
    book.charge("acme", "4", "USD")
    assert book.balance("acme", as_of=before).available_units == 10_000_000
    assert book.balance("acme").available_units == 6_000_000
    assert [tx.kind for tx in book.ledger("acme", as_of=before)] == ["grant_issued"]
    assert [tx.kind for tx in book.ledger("acme")] == ["grant_issued", "charge"]
