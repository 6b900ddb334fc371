"""Small builders for invoice tests: a price book, a period, grants as candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from drawdown.domain.billed_usage import UsageTotal
from drawdown.domain.contracts import Availability, Contract
from drawdown.domain.drawdown import Candidate
from drawdown.domain.grants import Category, Grant, Source, scope_of
from drawdown.domain.instants import calendar_period
from drawdown.domain.invoices import Invoice, RatingInput, apply_credits, rate
from drawdown.domain.money import CURRENCIES
from drawdown.domain.pricing import Price, PriceBook, PriceModel, Tier

D = Decimal

USD = CURRENCIES["USD"]
PERIOD = calendar_period(datetime(2026, 10, 15, tzinfo=UTC), "month", ZoneInfo("UTC"))
ISSUED = PERIOD.end + timedelta(hours=1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
U = Category.USAGE

PRICES = {
    "api": Price("api", U, PriceModel.PER_UNIT, unit_price=D("0.01")),
    "storage": Price("storage", U, PriceModel.PER_UNIT, unit_price=D("0.10")),
    "gpu": Price("gpu", U, PriceModel.GRADUATED, tiers=(Tier(D(100), D(1)), Tier(None, D("0.5")))),
    "seat": Price("seat", Category.LICENSE, PriceModel.PER_UNIT, unit_price=D(20)),
    "support": Price("support", Category.FIXED_FEE, PriceModel.FLAT, flat_amount=D(100)),
    "sso": Price("sso", Category.ADD_ON, PriceModel.FLAT, flat_amount=D(30)),
}
BOOK = PriceBook("default", 1, T0, "USD", PRICES)


def usage(**quantities: str) -> tuple[UsageTotal, ...]:
    return tuple(UsageTotal(p, D(q), 1, (f"ev-{p}",)) for p, q in sorted(quantities.items()))


def contract(version: int = 1, **rules: object) -> Contract:
    return Contract("acme", version, T0, **rules)  # type: ignore[arg-type]


def grant(gid: str, amount: str, scope: str = "invoice", **fields: object) -> Candidate:
    g = Grant(
        id=gid, account_id="acme", unit="USD", amount_units=int(D(amount) * 10**6), source=Source.PROMOTIONAL,
        effective_at=T0, expires_at=None, priority=50, scope=scope_of(scope), cost_basis=D(0), period_cap=None,
        invoice_cap_units=None, reason_code=f"reason-{gid}", issuer="test", external_ref=None,
        created_seq=int(gid.strip("g") or 0) if gid.strip("g").isdigit() else 0, created_at=T0,
    )  # fmt: skip
    for name, value in fields.items():
        object.__setattr__(g, name, value)
    return Candidate(g, g.amount_units)


def invoice(
    quantities: dict[str, str] | None = None,
    terms: Contract | None = None,
    grants: list[Candidate] | None = None,
    availability: tuple[Availability, ...] = (),
) -> Invoice:
    rated = rate(
        RatingInput("acme", USD, PERIOD, "UTC", ISSUED, BOOK, terms, usage(**(quantities or {})), (), availability)
    )
    return apply_credits(rated, grants or [])


def dollars(units: int) -> str:
    return str(D(units).scaleb(-6).quantize(D("0.01")))
