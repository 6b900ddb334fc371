"""Price books: products, price models and effective-dated versions.

A :class:`Price` turns a quantity into an exact ``Decimal`` amount of the book's unit; no
rounding happens here (invoices round once, see :mod:`drawdown.domain.invoices`). Models:

``flat``        ``flat_amount`` for the period whenever the quantity is above zero
``per_unit``    quantity × ``unit_price``
``package``     ceil(quantity / ``package_size``) × ``unit_price`` (a price per started package)
``graduated``   each tier prices the units that fall inside it, plus the tier's flat amount
                when any unit reaches it (like income-tax brackets)
``volume``      the single tier the total quantity falls in prices every unit, plus its flat

Tiers are ordered by ``up_to`` (inclusive upper bound); the last has ``up_to = None``.
A :class:`PriceBook` is one version of a named book; the version in force at an instant is
the newest whose ``effective_at`` is at or before it, unless an account is pinned to one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from drawdown.domain import limits
from drawdown.domain.errors import InvalidField, PriceBookNotFound
from drawdown.domain.grants import Category

ZERO = Decimal(0)


class PriceModel(StrEnum):
    FLAT = "flat"
    PER_UNIT = "per_unit"
    PACKAGE = "package"
    GRADUATED = "graduated"
    VOLUME = "volume"


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound of the tier; None = no bound
    unit_price: Decimal
    flat_amount: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Price:
    """How one product is priced. Only the fields of its ``model`` are used."""

    product: str
    category: Category
    model: PriceModel
    unit_price: Decimal = ZERO
    flat_amount: Decimal = ZERO
    package_size: Decimal = Decimal(1)
    tiers: tuple[Tier, ...] = ()

    # The explanation's plain data, made once per price: an invoice run describes the same
    # few prices on every line of every invoice. Not part of the value (compare=False).
    description: dict[str, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_price(self)
        object.__setattr__(self, "description", _describe(self))

    def describe(self) -> dict[str, object]:
        """The price as plain data for an explanation (a copy; the nested tiers are shared)."""
        return dict(self.description)


def _describe(price: Price) -> dict[str, object]:
    if price.model in (PriceModel.GRADUATED, PriceModel.VOLUME):
        tiers = [
            {"up_to": None if t.up_to is None else str(t.up_to), "unit_price": str(t.unit_price),
             "flat_amount": str(t.flat_amount)}
            for t in price.tiers
        ]  # fmt: skip
        return {"model": str(price.model), "tiers": tiers}
    if price.model is PriceModel.FLAT:
        return {"model": "flat", "flat_amount": str(price.flat_amount)}
    if price.model is PriceModel.PACKAGE:
        return {"model": "package", "unit_price": str(price.unit_price), "package_size": str(price.package_size)}
    return {"model": "per_unit", "unit_price": str(price.unit_price)}


def _check_price(price: Price) -> None:
    numbers = [price.unit_price, price.flat_amount, price.package_size]
    numbers += [n for t in price.tiers for n in (t.unit_price, t.flat_amount)]
    if any(not isinstance(n, Decimal) or not n.is_finite() or n < 0 for n in numbers):
        raise InvalidField(f"prices of {price.product} must be finite decimals of zero or more", field="price")
    if price.model is PriceModel.PACKAGE and price.package_size <= 0:
        raise InvalidField(f"package_size of {price.product} must be above zero", field="package_size")
    if price.model in (PriceModel.GRADUATED, PriceModel.VOLUME):
        bounds = [t.up_to for t in price.tiers]
        if not bounds or len(bounds) > limits.PRICE_TIERS_MAX or bounds[-1] is not None:
            raise InvalidField(
                f"{price.product} needs 1–{limits.PRICE_TIERS_MAX} tiers, the last without up_to", field="tiers"
            )
        finite = [b for b in bounds[:-1] if b is not None]
        if len(finite) != len(bounds) - 1 or any(b <= a for a, b in zip([ZERO, *finite], finite, strict=False)):
            raise InvalidField(f"tiers of {price.product} must rise strictly from above zero", field="tiers")


def amount(price: Price, quantity: Decimal, already: Decimal = ZERO) -> Decimal:
    """The exact amount for ``quantity`` more units after ``already`` were priced this period.

    ``already`` lets a late quantity continue the tiers where the original invoice stopped.
    """
    assert quantity >= 0, "quantities are never negative"
    assert already >= 0, "quantities are never negative"
    return _total(price, already + quantity) - _total(price, already)


def _total(price: Price, quantity: Decimal) -> Decimal:
    if quantity == 0:
        return ZERO
    if price.model is PriceModel.FLAT:
        return price.flat_amount
    if price.model is PriceModel.PER_UNIT:
        return quantity * price.unit_price
    if price.model is PriceModel.PACKAGE:
        return (quantity / price.package_size).to_integral_value(ROUND_CEILING) * price.unit_price
    if price.model is PriceModel.VOLUME:
        tier = next(t for t in price.tiers if t.up_to is None or quantity <= t.up_to)
        return quantity * tier.unit_price + tier.flat_amount
    total, floor = ZERO, ZERO
    for tier in price.tiers:
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if top > floor:
            total += (top - floor) * tier.unit_price + tier.flat_amount
        if tier.up_to is None or quantity <= tier.up_to:
            break
        floor = tier.up_to
    return total


@dataclass(frozen=True, slots=True)
class PriceBook:
    """One version of a named price book, in one unit (a currency or a credit unit)."""

    id: str
    version: int
    effective_at: datetime
    unit: str
    prices: Mapping[str, Price] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.id}@v{self.version}"

    def price(self, product: str) -> Price | None:
        return self.prices.get(product)


def book_in_force(versions: Sequence[PriceBook], at: datetime, pinned_version: int | None = None) -> PriceBook:
    """The pinned version, or the newest version effective at or before ``at``."""
    if pinned_version is not None:
        found = [b for b in versions if b.version == pinned_version]
    else:
        found = sorted((b for b in versions if b.effective_at <= at), key=lambda b: (b.effective_at, b.version))
    if not found:
        name = versions[0].id if versions else "?"
        raise PriceBookNotFound(
            f"price book {name} has no version {'pinned as ' + str(pinned_version) if pinned_version else 'in force'} "
            f"at {at.isoformat()}",
            field="price_book",
        )
    return found[-1]
