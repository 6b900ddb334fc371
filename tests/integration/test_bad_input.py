"""Bad input raises a typed error with a stable code and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drawdown.book import Book
from drawdown.domain.errors import DrawdownError
from tests.conftest import START
from tests.integration.dump import snapshot

LATER = START + timedelta(days=1)

CASES: list[tuple[str, Callable[[Book], Any], str, str | None]] = [
    ("negative amount", lambda b: b.issue_grant("acme", "-1", "USD"), "invalid_amount", "amount"),
    ("zero amount", lambda b: b.issue_grant("acme", "0", "USD"), "invalid_amount", "amount"),
    ("float amount", lambda b: b.issue_grant("acme", 1.5, "USD"), "float_not_allowed", "amount"),
    ("too precise", lambda b: b.issue_grant("acme", "1.0000001", "USD"), "invalid_amount", "amount"),
    ("unknown account", lambda b: b.issue_grant("nobody", "1", "USD"), "account_not_found", "account"),
    ("unknown unit", lambda b: b.issue_grant("acme", "1", "XYZ_CREDIT"), "unit_not_found", "unit"),
    ("other currency", lambda b: b.issue_grant("acme", "1", "EUR"), "unit_mismatch", "unit"),
    ("naive effective_at", lambda b: b.issue_grant("acme", "1", "USD", effective_at=datetime(2026, 1, 1)),
     "naive_datetime", "effective_at"),
    ("expiry before effective", lambda b: b.issue_grant("acme", "1", "USD", effective_at=LATER, expires_at=START),
     "invalid_period", "expires_at"),
    ("expiry equal to effective", lambda b: b.issue_grant("acme", "1", "USD", effective_at=LATER, expires_at=LATER),
     "invalid_period", "expires_at"),
    ("priority 0", lambda b: b.issue_grant("acme", "1", "USD", priority=0), "invalid_priority", "priority"),
    ("priority 101", lambda b: b.issue_grant("acme", "1", "USD", priority=101), "invalid_priority", "priority"),
    ("priority as text", lambda b: b.issue_grant("acme", "1", "USD", priority="1"), "invalid_priority", "priority"),
    ("unknown scope", lambda b: b.issue_grant("acme", "1", "USD", scope="team:ml"), "invalid_scope", "scope"),
    ("unknown scope category", lambda b: b.issue_grant("acme", "1", "USD", scope="category:snacks"),
     "invalid_scope", "scope"),
    ("empty products scope", lambda b: b.issue_grant("acme", "1", "USD", scope="products:"), "invalid_scope", "scope"),
    ("unknown source", lambda b: b.issue_grant("acme", "1", "USD", source="gift"), "invalid_field", "source"),
    ("negative cost basis", lambda b: b.issue_grant("acme", "1", "USD", cost_basis="-1"),
     "invalid_amount", "cost_basis"),
    ("bad cap period", lambda b: b.issue_grant("acme", "1", "USD", cap="1", cap_period="hour"),
     "invalid_field", "cap_period"),
    ("reason code with a lone surrogate", lambda b: b.issue_grant("acme", "1", "USD", reason_code="promo\ud800"),
     "invalid_field", "reason_code"),
    ("key with a lone surrogate", lambda b: b.issue_grant("acme", "1", "USD", idempotency_key="k-\udfff"),
     "invalid_field", "idempotency_key"),
    ("key with a NUL", lambda b: b.charge("acme", "1", "USD", idempotency_key="k\x00"), "invalid_field",
     "idempotency_key"),
    ("void reason with a NUL", lambda b: b.void_grant(b.grants("acme")[0].state.grant.id, reason="x\x00y"),
     "invalid_field", "reason"),
    ("charge of a float", lambda b: b.charge("acme", 0.5, "USD"), "float_not_allowed", "amount"),
    ("charge of nothing", lambda b: b.charge("acme", "0", "USD"), "invalid_amount", "amount"),
    ("charge of unknown account", lambda b: b.charge("ghost", "1", "USD"), "account_not_found", "account"),
    ("charge with naive time", lambda b: b.charge("acme", "1", "USD", at=datetime(2026, 1, 1)),
     "naive_datetime", "at"),
    ("charge in the future", lambda b: b.charge("acme", "1", "USD", at=START + timedelta(hours=1)),
     "invalid_period", "at"),
    ("charge beyond credit", lambda b: b.charge("acme", "1000", "USD"), "insufficient_credit", "amount"),
    ("charge of unknown category", lambda b: b.charge("acme", "1", "USD", category="snacks"),
     "invalid_field", "category"),
    ("void without a reason", lambda b: b.void_grant(b.grants("acme")[0].state.grant.id, reason=" "),
     "invalid_field", "reason"),
    ("void of unknown grant", lambda b: b.void_grant("gr_missing", reason="x"), "grant_not_found", "grant_id"),
    ("account with unknown zone", lambda b: b.create_account("new", currency="USD", time_zone="Mars/Base"),
     "invalid_time_zone", "time_zone"),
    ("account with unicode id", lambda b: b.create_account("acmé", currency="USD"), "invalid_identifier", "account_id"),
    ("account in a credit unit", lambda b: b.create_account("new", currency="AI_CREDIT"), "invalid_unit", "currency"),
    ("account with unknown parent", lambda b: b.create_account("new", currency="USD", parent="ghost"),
     "account_not_found", "parent"),
    ("account that exists differently", lambda b: b.create_account("acme", currency="EUR"),
     "account_already_exists", "account_id"),
    ("balance in unknown unit", lambda b: b.balance("acme", "NOPE_UNIT"), "unit_not_found", "unit"),
    ("balance as of a naive time", lambda b: b.balance("acme", as_of=datetime(2026, 1, 1)), "naive_datetime", "as_of"),
    ("unit redefined", lambda b: b.define_unit("AI_CREDIT", scale=5), "unit_already_exists", "code"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call", "code", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_its_code_and_nothing_is_written(
    book: Book, name: str, call: Callable[[Book], Any], code: str, field: str | None
) -> None:
    book.define_unit("AI_CREDIT", scale=3)
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "10", "USD", reason_code="setup")
    before = snapshot(book.engine)
    with pytest.raises(DrawdownError) as caught:
        call(book)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert caught.value.message
    assert snapshot(book.engine) == before


def test_a_timezone_aware_instant_in_another_zone_is_accepted_and_stored_as_utc(book: Book) -> None:
    book.create_account("acme", currency="USD")
    paris = datetime(2026, 2, 1, 9, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    grant = book.issue_grant("acme", "1", "USD", effective_at=paris, reason_code="x")
    assert grant.effective_at == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert grant.effective_at.tzinfo is UTC
