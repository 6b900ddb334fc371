"""drawdown: an open-source credits-and-discounts engine for usage-based billing.

    import drawdown
    book = drawdown.open("sqlite:///credits.db")
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "50.00", "USD", source="promotional", reason_code="welcome")
    book.charge("acme", "12.50", "USD", product="api_calls")
    book.balance("acme").available_units

The public surface is exactly ``__all__``; a test pins it.
"""

from drawdown.book import Book
from drawdown.book import open_book as open
from drawdown.domain.accounts import Account
from drawdown.domain.balances import Balance, GrantStatus
from drawdown.domain.contracts import Contract
from drawdown.domain.errors import (
    AccountNotFound,
    Conflict,
    DrawdownError,
    GrantAlreadyVoided,
    GrantNotFound,
    HoldAlreadyCaptured,
    HoldAlreadyReleased,
    HoldExpired,
    HoldNotFound,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidInput,
    KillSwitchEngaged,
    NotFound,
    Refused,
)
from drawdown.domain.grants import Category, Grant, Scope, Source
from drawdown.domain.holds import Hold, HoldStatus
from drawdown.domain.invoice_records import CreditNote
from drawdown.domain.ledger import Transaction
from drawdown.domain.money import Money, Unit
from drawdown.domain.pricing import PriceBook
from drawdown.services.charges import ChargeResult
from drawdown.services.enforcement import Decision
from drawdown.services.invoice_runs import RunReport
from drawdown.services.invoices import InvoiceView
from drawdown.services.queries import GrantView, VerifyReport
from drawdown.services.usage import EventResult, IngestReport, MeterReading

__all__ = [
    "Account",
    "AccountNotFound",
    "Balance",
    "Book",
    "Category",
    "ChargeResult",
    "Conflict",
    "Contract",
    "CreditNote",
    "Decision",
    "DrawdownError",
    "EventResult",
    "Grant",
    "GrantAlreadyVoided",
    "GrantNotFound",
    "GrantStatus",
    "GrantView",
    "Hold",
    "HoldAlreadyCaptured",
    "HoldAlreadyReleased",
    "HoldExpired",
    "HoldNotFound",
    "HoldStatus",
    "IdempotencyConflict",
    "IngestReport",
    "InsufficientCredit",
    "InvalidInput",
    "InvoiceView",
    "KillSwitchEngaged",
    "MeterReading",
    "Money",
    "NotFound",
    "PriceBook",
    "Refused",
    "RunReport",
    "Scope",
    "Source",
    "Transaction",
    "Unit",
    "VerifyReport",
    "open",
]
