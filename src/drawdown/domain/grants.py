"""Grants: immutable blocks of credit, their scope, caps and validation.

A grant is saved once and never edited. What happens to it afterwards (draws, holds,
expiry, a void) is recorded as ledger transactions against its ledger account
``grant:<id>``; its remaining amount is the balance of that ledger account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from drawdown.domain import limits
from drawdown.domain.accounts import Cap, CapPeriod, is_text, require_id
from drawdown.domain.errors import (
    InvalidAmount,
    InvalidField,
    InvalidPeriod,
    InvalidPriority,
    InvalidScope,
)
from drawdown.domain.money import Unit, parse_amount, parse_decimal


class Source(StrEnum):
    """Why the credit exists; promotional-like sources are free, purchased ones have a cost."""

    PURCHASED = "purchased"
    PROMOTIONAL = "promotional"
    SUPPORT = "support"
    SLA = "sla"
    REFERRAL = "referral"
    TRIAL = "trial"
    ALLOTMENT = "allotment"
    CLOUD = "cloud"
    REBATE = "rebate"


class Category(StrEnum):
    """The kinds of invoice line a grant can be scoped to."""

    USAGE = "usage"
    FIXED_FEE = "fixed_fee"
    LICENSE = "license"
    ADD_ON = "add_on"


class ScopeKind(StrEnum):
    INVOICE = "invoice"
    CATEGORY = "category"
    PRODUCTS = "products"


@dataclass(frozen=True, slots=True)
class Target:
    """What a charge pays for: a line's category and its product (meter, fee, seat, add-on)."""

    category: Category
    product: str


@dataclass(frozen=True, slots=True)
class Scope:
    """Which lines a grant may pay: the whole invoice, one category, or named products."""

    kind: ScopeKind = ScopeKind.INVOICE
    category: Category | None = None
    products: tuple[str, ...] = ()

    def applies_to(self, target: Target) -> bool:
        if self.kind is ScopeKind.INVOICE:
            return True
        if self.kind is ScopeKind.CATEGORY:
            return self.category is target.category
        return target.product in self.products

    @property
    def breadth(self) -> tuple[int, int]:
        """Smaller is narrower: named products (fewest first), then a category, then all."""
        return _BREADTH_RANK[self.kind], len(self.products)

    def describe(self) -> str:
        if self.kind is ScopeKind.INVOICE:
            return "invoice"
        if self.kind is ScopeKind.CATEGORY:
            return f"category:{self.category}"
        return "products:" + ",".join(self.products)


_BREADTH_RANK = {ScopeKind.PRODUCTS: 0, ScopeKind.CATEGORY: 1, ScopeKind.INVOICE: 2}


def scope_of(value: object) -> Scope:
    """Parse a scope from ``None``/"invoice", "category:usage", "products:a,b" or a Scope."""
    if value is None or value == "invoice":
        return Scope()
    if isinstance(value, Scope):
        return _checked_scope(value.kind, value.category, value.products)
    if isinstance(value, str) and ":" in value:
        kind, _, rest = value.partition(":")
        if kind == "category":
            return _checked_scope(ScopeKind.CATEGORY, _category(rest), ())
        if kind == "products":
            return _checked_scope(ScopeKind.PRODUCTS, None, tuple(p for p in rest.split(",") if p))
    if isinstance(value, Mapping):
        kind_text = value.get("kind", "invoice")
        if kind_text == "invoice" and set(value) <= {"kind"}:
            return Scope()
        if kind_text == "category":
            return _checked_scope(ScopeKind.CATEGORY, _category(value.get("category")), ())
        if kind_text == "products":
            products = value.get("products")
            if isinstance(products, list | tuple):
                return _checked_scope(ScopeKind.PRODUCTS, None, tuple(products))
    raise InvalidScope(
        f"scope {value!r} is not one of: invoice, category:<{'|'.join(Category)}>, products:<id,id,…>",
        field="scope",
    )


def _category(value: object) -> Category:
    try:
        return Category(str(value))
    except ValueError:
        raise InvalidScope(f"scope category {value!r} is not one of {', '.join(Category)}", field="scope") from None


def _checked_scope(kind: ScopeKind, category: Category | None, products: Iterable[object]) -> Scope:
    names = tuple(products)
    if kind is ScopeKind.PRODUCTS:
        if not names or len(names) > limits.SCOPE_PRODUCTS_MAX:
            raise InvalidScope(f"a products scope names 1–{limits.SCOPE_PRODUCTS_MAX} products", field="scope")
        clean = tuple(sorted({require_id(name, field="scope.products") for name in names}))
        return Scope(kind, None, clean)
    if kind is ScopeKind.CATEGORY and category is None:
        raise InvalidScope("a category scope needs a category", field="scope")
    return Scope(kind, category, ())


@dataclass(frozen=True, slots=True)
class Grant:
    """A block of credit on one account, immutable once saved."""

    id: str
    account_id: str
    unit: str
    amount_units: int
    source: Source
    effective_at: datetime
    expires_at: datetime | None
    priority: int
    scope: Scope
    cost_basis: Decimal  # price paid per unit of credit, in the account's currency; 0 = free
    period_cap: Cap | None
    invoice_cap_units: int | None
    reason_code: str
    issuer: str
    external_ref: str | None
    created_seq: int
    created_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def promotional(self) -> bool:
        return not self.cost_basis

    def active_at(self, instant: datetime) -> bool:
        """Inside ``[effective_at, expires_at)``."""
        return self.effective_at <= instant and (self.expires_at is None or instant < self.expires_at)


def check_priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPriority(f"priority must be an integer from 1 to 100, got {value!r}", field="priority")
    if not limits.PRIORITY_MIN <= value <= limits.PRIORITY_MAX:
        raise InvalidPriority(
            f"priority {value} is outside {limits.PRIORITY_MIN}–{limits.PRIORITY_MAX} (lower numbers burn first)",
            field="priority",
        )
    return value


def check_validity(effective_at: datetime, expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= effective_at:
        raise InvalidPeriod(
            f"expires_at {expires_at.isoformat()} must be after effective_at {effective_at.isoformat()}",
            field="expires_at",
        )


def check_cost_basis(value: object) -> Decimal:
    number = parse_decimal(value, field="cost_basis")
    if number < 0:
        raise InvalidAmount("cost_basis must be zero or more", field="cost_basis")
    return number


def check_cap(amount: object, period: object, unit: Unit, *, field: str) -> Cap:
    try:
        cap_period = CapPeriod(str(period))
    except ValueError:
        raise InvalidField(
            f"{field}_period {period!r} is not one of {', '.join(CapPeriod)}", field=f"{field}_period"
        ) from None
    return Cap(parse_amount(amount, unit, field=field), cap_period)


def check_text(value: object, *, field: str, required: bool, length_max: int) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidField(f"{field} is required: say why, in words", field=field)
    if len(value) > length_max:
        raise InvalidField(f"{field} is {len(value)} characters; at most {length_max}", field=field)
    if "\x00" in value or not is_text(value):  # neither store takes a NUL or a lone surrogate
        raise InvalidField(f"{field} must be text without NUL characters or lone surrogates", field=field)
    return value.strip()
