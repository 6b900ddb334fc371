"""Price books and contracts as plain data: the one format callers send and storage keeps.

``prices_from`` / ``contract_from`` validate plain dicts (decimal strings, never floats) into
domain values; ``prices_data`` / ``contract_data`` turn them back into the same dicts, so
storing and loading is the identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from drawdown.domain import limits
from drawdown.domain.accounts import require_id
from drawdown.domain.contracts import (
    BundleDiscount,
    Contract,
    DiscountScope,
    MinimumCommit,
    PercentDiscount,
    PriceOverride,
    Rebate,
    Settlement,
    SlaSchedule,
    SlaStep,
    TermCommit,
    check_percent,
)
from drawdown.domain.errors import InvalidField, LimitExceeded
from drawdown.domain.grants import Category
from drawdown.domain.money import parse_decimal
from drawdown.domain.pricing import Price, PriceModel, Tier

Data = Mapping[str, Any]


def _enum(kind: type[Any], value: object, field: str) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        names = ", ".join(str(member) for member in kind)
        raise InvalidField(f"{field} {value!r} is not one of {names}", field=field) from None


def _dec(value: object, field: str, default: str | None = None) -> Decimal:
    if value is None and default is not None:
        return Decimal(default)
    number = parse_decimal(value, field=field)
    if number < 0:
        raise InvalidField(f"{field} must be zero or more", field=field)
    if number > limits.TERMS_NUMBER_MAX:  # rating stays within Decimal's 28 digits
        raise InvalidField(f"{field} may be at most {limits.TERMS_NUMBER_MAX:,}, got {value}", field=field)
    return number


def _items(value: object, field: str, most: int = limits.CONTRACT_RULES_MAX) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or len(value) > most:
        raise LimitExceeded(f"{field} must be a list of at most {most} items", field=field)
    return value


def price_from(data: Data) -> Price:
    product = require_id(data.get("product"), field="product")
    tiers = tuple(
        Tier(None if t.get("up_to") is None else _dec(t["up_to"], "up_to"), _dec(t.get("unit_price"), "unit_price"),
             _dec(t.get("flat_amount"), "flat_amount", "0"))
        for t in _items(data.get("tiers"), "tiers", limits.PRICE_TIERS_MAX)
    )  # fmt: skip
    return Price(
        product,
        _enum(Category, data.get("category", "usage"), "category"),
        _enum(PriceModel, data.get("model"), "model"),
        unit_price=_dec(data.get("unit_price"), "unit_price", "0"),
        flat_amount=_dec(data.get("flat_amount"), "flat_amount", "0"),
        package_size=_dec(data.get("package_size"), "package_size", "1"),
        tiers=tiers,
    )


def price_data(price: Price) -> dict[str, Any]:
    return {"product": price.product, "category": str(price.category), **price.describe()}


def prices_from(items: object) -> dict[str, Price]:
    prices = [price_from(item) for item in _items(items, "prices", limits.PRICES_PER_BOOK_MAX)]
    found = {p.product: p for p in prices}
    if len(found) != len(prices):
        raise InvalidField("a price book prices each product once", field="prices")
    return found


def prices_data(prices: Mapping[str, Price]) -> list[dict[str, Any]]:
    return [price_data(prices[name]) for name in sorted(prices)]


def contract_from(account_id: str, version: int, effective_at: datetime, data: Data) -> Contract:
    commit = data.get("commit")
    return Contract(
        account_id=account_id,
        version=version,
        effective_at=effective_at,
        price_book=require_id(data.get("price_book", "default"), field="price_book"),
        price_book_version=_version(data.get("price_book_version")),
        quantities=MappingProxyType(
            {  # read-only: parsed contracts are shared by a cache
                require_id(k, field="quantities"): _dec(v, f"quantities.{k}")
                for k, v in dict(data.get("quantities") or {}).items()
            }
        ),
        overrides=tuple(
            PriceOverride(_rule(o), price_from(o["price"])) for o in _items(data.get("overrides"), "overrides")
        ),
        discounts=tuple(_discount(d) for d in _items(data.get("discounts"), "discounts")),
        bundles=tuple(
            BundleDiscount(_rule(b), _products(b), check_percent(_dec(b.get("percent"), "percent"), field="percent"))
            for b in _items(data.get("bundles"), "bundles")
        ),
        commit=None if commit is None else MinimumCommit(_rule(commit), _dec(commit.get("amount"), "commit.amount")),
        term_commit=_term_commit(data.get("term_commit")),
        rebates=tuple(_rebate(r) for r in _items(data.get("rebates"), "rebates")),
        sla=tuple(_sla(s) for s in _items(data.get("sla"), "sla")),
    )


def _products(data: Data) -> tuple[str, ...]:
    return tuple(sorted(require_id(p, field="products") for p in _items(data.get("products"), "products")))


def _term_commit(data: object) -> TermCommit | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidField("term_commit must be an object with rule, amount, start and end", field="term_commit")
    return TermCommit(_rule(data), _dec(data.get("amount"), "term_commit.amount"), data.get("start"),  # type: ignore[arg-type]
                      data.get("end"))  # type: ignore[arg-type]  # fmt: skip


def _rebate(data: Data) -> Rebate:
    return Rebate(
        _rule(data),
        _dec(data.get("threshold"), "threshold", "0"),
        _dec(data.get("percent"), "percent"),
        _enum(Settlement, data.get("settlement", "grant"), "settlement"),
    )


def _sla(data: Data) -> SlaSchedule:
    steps = tuple(
        SlaStep(_dec(t.get("below_percent"), "below_percent"), _dec(t.get("credit_percent"), "credit_percent"))
        for t in _items(data.get("steps"), "steps")
    )
    return SlaSchedule(_rule(data), _products(data), steps)


def _version(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidField("price_book_version must be a positive integer", field="price_book_version")
    return value


def _rule(data: Data) -> str:
    return require_id(data.get("rule"), field="rule")


def _discount(data: Data) -> PercentDiscount:
    scope = _enum(DiscountScope, data.get("scope", "invoice"), "scope")
    if scope is DiscountScope.BUNDLE:
        raise InvalidField("bundle discounts go under 'bundles'", field="scope")
    category = _enum(Category, data["category"], "category") if scope is DiscountScope.CATEGORY else None
    product = require_id(data.get("product"), field="product") if scope is DiscountScope.PRODUCT else None
    return PercentDiscount(_rule(data), check_percent(_dec(data.get("percent"), "percent"), field="percent"), scope,
                           category, product)  # fmt: skip


def contract_data(contract: Contract) -> dict[str, Any]:
    commit = contract.commit
    return {
        "price_book": contract.price_book,
        "price_book_version": contract.price_book_version,
        "quantities": {k: str(v) for k, v in sorted(contract.quantities.items())},
        "overrides": [{"rule": o.rule, "price": price_data(o.price)} for o in contract.overrides],
        "discounts": [
            {"rule": d.rule, "percent": str(d.percent), "scope": str(d.scope),
             "category": None if d.category is None else str(d.category), "product": d.product}
            for d in contract.discounts
        ],
        "bundles": [
            {"rule": b.rule, "products": list(b.products), "percent": str(b.percent)} for b in contract.bundles
        ],
        "commit": None if commit is None else {"rule": commit.rule, "amount": str(commit.amount)},
        "term_commit": _term_commit_data(contract.term_commit),
        "rebates": [
            {"rule": r.rule, "threshold": str(r.threshold), "percent": str(r.percent), "settlement": str(r.settlement)}
            for r in contract.rebates
        ],
        "sla": [{"rule": s.rule, "products": list(s.products), "steps": _steps(s)} for s in contract.sla],
    }  # fmt: skip


def _term_commit_data(term: TermCommit | None) -> dict[str, str] | None:
    if term is None:
        return None
    return {"rule": term.rule, "amount": str(term.amount), "start": term.start, "end": term.end}


def _steps(schedule: SlaSchedule) -> list[dict[str, str]]:
    return [{"below_percent": str(t.below_percent), "credit_percent": str(t.credit_percent)} for t in schedule.steps]
