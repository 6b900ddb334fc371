"""drawdown: an open-source credits-and-discounts engine for usage-based billing.

    import drawdown
    book = drawdown.open("sqlite:///credits.db")
    book.create_account("acme", currency="USD")
    book.issue_grant("acme", "50.00", "USD", source="promotional", reason_code="welcome")
    book.charge("acme", "12.50", "USD", product="api_calls")
    book.balance("acme").available_units

The public surface is exactly ``__all__``; a test pins it.
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from drawdown.book import Book
    from drawdown.book import open_book as open

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


def __getattr__(name: str) -> Any:
    """``Book`` and ``open`` load the storage and server wiring on first use, so a process
    that imports only a part of drawdown (an invoice-run worker, say) starts quickly."""
    if name in ("Book", "open"):
        from drawdown import book

        value = book.Book if name == "Book" else book.open_book
        globals()[name] = value
        return value
    raise AttributeError(f"module 'drawdown' has no attribute {name!r}")
