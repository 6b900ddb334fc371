"""Every expected failure drawdown can report, as typed errors with a stable ``code``.

Assertions guard against bugs; these errors describe conditions a caller can cause and
fix. Each carries a stable machine-readable ``code``, a human message that says what was
wrong and how to fix it, the offending ``field`` where there is one, and structured
``data``. None of them knows about HTTP or exit codes: each edge maps the four families
below once (the API to RFC 9457 problems, the CLI to exit codes).

    DrawdownError
    ├── InvalidInput          the request itself is wrong       (invalid_amount, naive_datetime, …)
    ├── NotFound              it names something that is absent (account_not_found, …)
    ├── Conflict              it clashes with what is recorded  (idempotency_conflict, hold_already_captured, …)
    ├── Refused               valid, but the books say no       (insufficient_credit, kill_switch_engaged)
    └── AccessDenied          the caller may not do this        (unauthenticated, forbidden, …)
"""

from __future__ import annotations

from typing import Any


class DrawdownError(Exception):
    """Base of every expected drawdown failure."""

    code: str = "drawdown_error"

    def __init__(self, message: str, *, field: str | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, **self.data}


class InvalidInput(DrawdownError):
    code = "invalid_input"


class NotFound(DrawdownError):
    code = "not_found"


class Conflict(DrawdownError):
    code = "conflict"


class Refused(DrawdownError):
    code = "refused"


# Input errors: the request is malformed or out of range.
class InvalidAmount(InvalidInput):
    """An amount is not a positive decimal within limits."""

    code = "invalid_amount"


class FloatNotAllowed(InvalidInput):
    """A float was given where exact money is required."""

    code = "float_not_allowed"


class NaiveDatetime(InvalidInput):
    """A datetime has no time zone."""

    code = "naive_datetime"


class InvalidTimeZone(InvalidInput):
    """A time zone is not an IANA zone name."""

    code = "invalid_time_zone"


class InvalidPeriod(InvalidInput):
    """An instant range is empty or reversed."""

    code = "invalid_period"


class InvalidPriority(InvalidInput):
    """A priority is outside 1–100."""

    code = "invalid_priority"


class InvalidScope(InvalidInput):
    """A grant scope is unknown or malformed."""

    code = "invalid_scope"


class InvalidIdentifier(InvalidInput):
    """An id has a bad shape."""

    code = "invalid_identifier"


class InvalidUnit(InvalidInput):
    """A unit definition is malformed."""

    code = "invalid_unit"


class InvalidField(InvalidInput):
    """A field has a bad value."""

    code = "invalid_field"


class UnbalancedTransaction(InvalidInput):
    """Postings do not sum to zero per unit."""

    code = "unbalanced_transaction"


class LimitExceeded(InvalidInput):
    """An input is larger than drawdown accepts."""

    code = "limit_exceeded"


class UnitMismatch(InvalidInput):
    """Amounts or a grant and an account disagree on the unit."""

    code = "unit_mismatch"


class InvalidQuantity(InvalidInput):
    """A usage quantity is not a non-negative decimal within limits."""

    code = "invalid_quantity"


class InvalidProperties(InvalidInput):
    """Event properties are not a small flat object."""

    code = "invalid_properties"


class EventTooLate(InvalidInput):
    """An event is older than the late cutoff."""

    code = "event_too_late"


class EventInFuture(InvalidInput):
    """An event is further in the future than the clock-skew allowance."""

    code = "event_in_future"


class BatchTooLarge(InvalidInput):
    """A batch holds more items than drawdown accepts in one call."""

    code = "batch_too_large"


# Missing things.
class AccountNotFound(NotFound):
    """No account has that id."""

    code = "account_not_found"


class GrantNotFound(NotFound):
    """No grant has that id."""

    code = "grant_not_found"


class FinOpsNodeNotFound(NotFound):
    """A FinOps hierarchy node id names no node."""

    code = "finops_node_not_found"


class CloudCreditNotFound(NotFound):
    """A cloud-credit id names no detected credit."""

    code = "cloud_credit_not_found"


class UnitNotFound(NotFound):
    """No currency or credit unit has that code."""

    code = "unit_not_found"


class TransactionNotFound(NotFound):
    """No ledger transaction has that id."""

    code = "transaction_not_found"


class HoldNotFound(NotFound):
    """No hold has that id."""

    code = "hold_not_found"


class MeterNotFound(NotFound):
    """No meter has that id, or no meter counts that event type."""

    code = "meter_not_found"


class RateCardNotFound(NotFound):
    """No rate card (version) has that id, or none is pinned to the account."""

    code = "rate_card_not_found"


class FeatureNotPriced(NotFound):
    """The account's rate card has no rate for that feature."""

    code = "feature_not_priced"


# Clashes with recorded state.
class IdempotencyConflict(Conflict):
    """An idempotency key was reused with different content."""

    code = "idempotency_conflict"


class GrantAlreadyVoided(Conflict):
    """The grant was voided before."""

    code = "grant_already_voided"


class AccountAlreadyExists(Conflict):
    """An account with that id exists."""

    code = "account_already_exists"


class UnitAlreadyExists(Conflict):
    """A unit with that code exists."""

    code = "unit_already_exists"


class FinOpsRuleAlreadyExists(Conflict):
    """A mapping rule with that id exists and says something else."""

    code = "finops_rule_already_exists"


class HierarchyCycle(Conflict):
    """The parent would make the hierarchy a cycle."""

    code = "hierarchy_cycle"


class HoldAlreadyCaptured(Conflict):
    """The hold was captured before; a hold resolves once."""

    code = "hold_already_captured"


class HoldAlreadyReleased(Conflict):
    """The hold was released before; a hold resolves once."""

    code = "hold_already_released"


class HoldExpired(Conflict):
    """The hold reached its expiry and its credit was released."""

    code = "hold_expired"


class MeterAlreadyExists(Conflict):
    """A meter with that id exists with a different definition."""

    code = "meter_already_exists"


# Valid requests the books refuse.
class InsufficientCredit(Refused):
    """Eligible credit does not cover the charge."""

    code = "insufficient_credit"


class KillSwitchEngaged(Refused):
    """The global kill switch is on: every authorization and reserve is denied."""

    code = "kill_switch_engaged"


# Pricing, contracts and invoices.
class PriceBookNotFound(NotFound):
    """No price book (or no version of it) is in force."""

    code = "price_book_not_found"


class InvoiceNotFound(NotFound):
    """No invoice has that id."""

    code = "invoice_not_found"


class InvoiceAlreadyFinalized(Conflict):
    """The account already has a finalized invoice for that period."""

    code = "invoice_already_finalized"


class InvoiceOutOfOrder(Conflict):
    """A later period of the account is already finalized, or a month after its latest invoice has none yet."""

    code = "invoice_out_of_order"


class InvoiceAlreadyVoided(Conflict):
    """The invoice was voided before."""

    code = "invoice_already_voided"


class InvoiceNotVoided(Conflict):
    """Only a voided invoice is re-issued: void it first (its credits come back), then re-issue."""

    code = "invoice_not_voided"


class InvoiceSuperseded(Conflict):
    """The voided invoice's period was re-issued and has moved on since: act on its latest revision."""

    code = "invoice_superseded"


class InvoiceCountedInTerm(Conflict):
    """A later finalized invoice counted this one toward the term commitment it closed."""

    code = "invoice_counted_in_term"


class CreditNoteTooLarge(Refused):
    """A credit note would take an invoice below zero."""

    code = "credit_note_too_large"


class AccessDenied(DrawdownError):
    code = "access_denied"


# The caller is not allowed (API keys and roles).
class Unauthenticated(AccessDenied):
    """No API key, an unknown one, or a revoked one."""

    code = "unauthenticated"


class Forbidden(AccessDenied):
    """The key's role may not use this operation."""

    code = "forbidden"


class GrantLimitExceeded(AccessDenied):
    """A support key asked for a grant above its limit."""

    code = "grant_limit_exceeded"


class KeyNotFound(NotFound):
    """No API key has that id."""

    code = "key_not_found"
