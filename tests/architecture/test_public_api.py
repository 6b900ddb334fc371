"""The public surface is small and deliberate; changing it is a decision, so a test pins it."""

from __future__ import annotations

import drawdown

PUBLIC = [
    "Account", "AccountNotFound", "Balance", "Book", "Category", "ChargeResult", "Conflict", "DrawdownError",
    "Grant", "GrantAlreadyVoided", "GrantNotFound", "GrantStatus", "GrantView", "IdempotencyConflict",
    "InsufficientCredit", "InvalidInput", "Money", "NotFound", "Refused", "Scope", "Source", "Transaction",
    "Unit", "VerifyReport", "open",
]  # fmt: skip

BOOK_METHODS = [
    "account", "accounts", "audit", "authenticate", "balance", "charge", "close", "create_account", "create_key",
    "define_unit", "expire_due", "grant", "grants", "issue_grant", "keys", "ledger", "purge_stored_responses",
    "revoke_key", "unit", "verify", "void_grant",
]  # fmt: skip


def test_the_package_exports_exactly_the_documented_names() -> None:
    assert sorted(drawdown.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(drawdown, name) is not None


def test_the_book_offers_exactly_the_documented_methods() -> None:
    methods = sorted(n for n in dir(drawdown.Book) if not n.startswith("_") and callable(getattr(drawdown.Book, n)))
    assert methods == sorted(BOOK_METHODS)
