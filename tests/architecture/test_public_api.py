"""The public surface is small and deliberate; changing it is a decision, so a test pins it."""

from __future__ import annotations

import drawdown

PUBLIC = [
    "Account", "AccountNotFound", "Balance", "Book", "Category", "ChargeResult", "Conflict", "DrawdownError",
    "Grant", "GrantAlreadyVoided", "GrantNotFound", "GrantStatus", "GrantView", "IdempotencyConflict",
    "InsufficientCredit", "InvalidInput", "Money", "NotFound", "Refused", "Scope", "Source", "Transaction",
    "Unit", "VerifyReport", "open",
    "Decision", "EventResult", "IngestReport", "MeterReading", "Hold", "HoldStatus", "HoldAlreadyCaptured",
    "HoldAlreadyReleased", "HoldExpired", "HoldNotFound", "KillSwitchEngaged",
    "Contract", "CreditNote", "InvoiceView", "PriceBook", "RunReport",
]  # fmt: skip

BOOK_METHODS = [
    "balance", "charge", "close", "create_account", "define_unit", "expire_due", "grants", "issue_grant",
    "ledger", "unit", "verify", "void_grant",
    "authorize", "burn_usage", "capture", "configure_account", "define_meter", "define_rate_card", "expire_holds",
    "hold", "ingest", "ingest_ndjson", "meter", "release", "reserve", "set_kill_switch", "set_late_cutoff", "sweep",
    "publish_price_book", "amend_contract", "contracts", "record_usage",
    "record_availability", "preview_invoice", "finalize_invoice", "void_invoice", "issue_credit_note", "invoice",
    "reissue_invoice", "run_invoices",
    "account", "accounts", "audit", "authenticate", "create_key", "grant", "keys", "purge_stored_responses",
    "revoke_key",
    "finops_add_node", "finops_add_rule", "finops_allocate", "finops_consume", "finops_credits", "finops_expiring",
    "finops_import", "finops_net_cost", "finops_nodes", "finops_rules",
]  # fmt: skip


def test_the_package_exports_exactly_the_documented_names() -> None:
    assert sorted(drawdown.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(drawdown, name) is not None


def test_the_book_offers_exactly_the_documented_methods() -> None:
    methods = sorted(n for n in dir(drawdown.Book) if not n.startswith("_") and callable(getattr(drawdown.Book, n)))
    assert methods == sorted(BOOK_METHODS)
