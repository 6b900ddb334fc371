"""One post() per idempotency key: replays return the original, conflicts write nothing."""

from __future__ import annotations

import pytest

from drawdown.book import Book
from drawdown.domain.errors import IdempotencyConflict
from tests.integration.dump import snapshot


def test_replaying_a_grant_returns_the_original_and_writes_nothing(book: Book) -> None:
    book.create_account("acme", currency="USD")
    first = book.issue_grant("acme", "10", "USD", reason_code="welcome", idempotency_key="grant-1")
    before = snapshot(book.engine)
    again = book.issue_grant("acme", "10", "USD", reason_code="welcome", idempotency_key="grant-1")
    assert again == first
    assert snapshot(book.engine) == before


def test_replaying_a_charge_returns_the_same_draws_even_after_the_balance_changed(book: Book) -> None:
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "10", "USD", reason_code="welcome")
    first = book.charge("acme", "6", "USD", idempotency_key="req-42")
    book.charge("acme", "4", "USD")
    again = book.charge("acme", "6", "USD", idempotency_key="req-42")
    assert again.replayed
    assert (again.transaction, again.draws, again.drawn) == (first.transaction, first.draws, first.drawn)
    assert book.balance("acme").available_units == 0


@pytest.mark.parametrize(
    "different",
    [
        {"amount": "7"},
        {"product": "gpu"},
        {"unit": "AI_CREDIT"},
    ],
)
def test_the_same_key_with_different_content_is_a_conflict_and_writes_nothing(
    book: Book, different: dict[str, str]
) -> None:
    book.define_unit("AI_CREDIT", scale=2)
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "10", "USD", reason_code="welcome")
    book.issue_grant("acme", "10", "AI_CREDIT", reason_code="welcome")
    request = {"amount": "6", "unit": "USD", "product": "api"} | different
    book.charge("acme", "6", "USD", product="api", idempotency_key="req-1")
    before = snapshot(book.engine)
    with pytest.raises(IdempotencyConflict) as caught:
        book.charge("acme", request["amount"], request["unit"], product=request["product"], idempotency_key="req-1")
    assert caught.value.field == "idempotency_key"
    assert snapshot(book.engine) == before


def test_a_void_replayed_with_its_key_returns_the_void_instead_of_refusing(book: Book) -> None:
    book.create_account("acme", currency="USD")
    grant = book.issue_grant("acme", "10", "USD", reason_code="welcome")
    first = book.void_grant(grant.id, reason="duplicate", idempotency_key="void-1")
    assert book.void_grant(grant.id, reason="duplicate", idempotency_key="void-1") == first
