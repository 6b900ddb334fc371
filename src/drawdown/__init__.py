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
    IdempotencyConflict,
    InsufficientCredit,
    InvalidInput,
    NotFound,
    Refused,
)
from drawdown.domain.grants import Category, Grant, Scope, Source
from drawdown.domain.invoice_records import CreditNote
from drawdown.domain.ledger import Transaction
from drawdown.domain.money import Money, Unit
from drawdown.domain.pricing import PriceBook
from drawdown.services.charges import ChargeResult
from drawdown.services.invoice_runs import RunReport
from drawdown.services.invoices import InvoiceView
from drawdown.services.queries import GrantView, VerifyReport

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
    "DrawdownError",
    "Grant",
    "GrantAlreadyVoided",
    "GrantNotFound",
    "GrantStatus",
    "GrantView",
    "IdempotencyConflict",
    "InsufficientCredit",
    "InvalidInput",
    "InvoiceView",
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
