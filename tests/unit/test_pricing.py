"""Every price model, as a small table: quantity in, exact amount out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from drawdown.domain.errors import InvalidField, PriceBookNotFound
from drawdown.domain.grants import Category
from drawdown.domain.pricing import Price, PriceBook, PriceModel, Tier, amount, book_in_force

D = Decimal

U = Category.USAGE
TIERS = (Tier(D(100), D("0.10")), Tier(D(1000), D("0.05")), Tier(None, D("0.01")))
PRICES = {
    "flat": Price("support", Category.FIXED_FEE, PriceModel.FLAT, flat_amount=D(500)),
    "per_unit": Price("api", U, PriceModel.PER_UNIT, unit_price=D("0.002")),
    "package": Price("sms", U, PriceModel.PACKAGE, unit_price=D(5), package_size=D(1000)),
    "graduated": Price("gpu", U, PriceModel.GRADUATED, tiers=TIERS),
    "volume": Price("gpu", U, PriceModel.VOLUME, tiers=TIERS),
    "graduated_with_flat": Price(
        "gpu", U, PriceModel.GRADUATED, tiers=(Tier(D(10), D(0), D(20)), Tier(None, D(1), D(5)))
    ),
}

# price, quantity, exact amount
AMOUNT_TABLE = [
    ("flat", "0", "0"),
    ("flat", "1", "500"),
    ("flat", "7", "500"),
    ("per_unit", "1234", "2.468"),
    ("per_unit", "0.5", "0.0010"),
    ("package", "1", "5"),
    ("package", "1000", "5"),
    ("package", "1001", "10"),
    ("graduated", "50", "5.00"),
    ("graduated", "100", "10.00"),
    ("graduated", "101", "10.05"),
    ("graduated", "1500", "10.00 + 45.00 + 5.00"),
    ("volume", "100", "10.00"),
    ("volume", "101", "5.05"),
    ("volume", "1500", "15.00"),
    ("graduated_with_flat", "5", "20"),
    ("graduated_with_flat", "12", "20 + 2 + 5"),
]  # fmt: skip


@pytest.mark.parametrize(("price", "quantity", "expected"), AMOUNT_TABLE, ids=[f"{r[0]}-{r[1]}" for r in AMOUNT_TABLE])
def test_each_price_model_rates_a_quantity_exactly(price: str, quantity: str, expected: str) -> None:
    assert amount(PRICES[price], D(quantity)) == sum(D(part) for part in expected.split(" + "))


def test_a_late_quantity_continues_the_graduated_tiers_where_the_invoice_stopped() -> None:
    graduated = PRICES["graduated"]
    assert amount(graduated, D(50), already=D(80)) == amount(graduated, D(130)) - amount(graduated, D(80))
    assert amount(graduated, D(50), already=D(80)) == D("2.00") + D("1.50")


@pytest.mark.parametrize(
    "tiers",
    [(), (Tier(D(10), D(1)),), (Tier(D(10), D(1)), Tier(D(5), D(1)), Tier(None, D(1)))],
    ids=["no tiers", "last tier bounded", "tiers not rising"],
)
def test_malformed_tiers_are_refused(tiers: tuple[Tier, ...]) -> None:
    with pytest.raises(InvalidField):
        Price("gpu", U, PriceModel.GRADUATED, tiers=tiers)


def test_negative_prices_are_refused() -> None:
    with pytest.raises(InvalidField):
        Price("api", U, PriceModel.PER_UNIT, unit_price=D("-1"))


def _book(version: int, month: int) -> PriceBook:
    return PriceBook("std", version, datetime(2026, month, 1, tzinfo=UTC), "USD", {})


# versions (version, effective month), instant month, pinned, version used
VERSION_TABLE = [
    ("the newest version in force is used", [(1, 1), (2, 6)], 7, None, 2),
    ("an old period re-rates with the version then in force", [(1, 1), (2, 6)], 3, None, 1),
    ("a pinned account keeps its version (grandfathering)", [(1, 1), (2, 6)], 7, 1, 1),
    ("a version effective later is not yet in force", [(1, 1), (2, 9)], 7, None, 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "versions", "month", "pinned", "used"), VERSION_TABLE, ids=[r[0] for r in VERSION_TABLE]
)
def test_price_book_versions(
    name: str, versions: list[tuple[int, int]], month: int, pinned: int | None, used: int
) -> None:
    books = [_book(v, m) for v, m in versions]
    assert book_in_force(books, datetime(2026, month, 15, tzinfo=UTC), pinned).version == used


def test_no_version_in_force_is_a_typed_error() -> None:
    with pytest.raises(PriceBookNotFound):
        book_in_force([_book(1, 6)], datetime(2026, 1, 1, tzinfo=UTC))
