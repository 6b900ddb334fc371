"""Units and exact amounts.

An amount is an ``int`` of a unit's smallest step (10**-scale). ISO 4217 currencies are kept
at micro-unit precision in the ledger so fractional usage needs no rounding per event; their
``minor_digits`` (2 for USD, 0 for JPY, 3 for BHD) is used only when an invoice rounds to
what can be paid. Custom credit units choose their own scale. ``Decimal`` is used only for
rates and for parsing; :func:`to_units` is the one place a Decimal becomes units and it
takes the rounding mode explicitly. Floats are rejected everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum

from drawdown.domain import limits
from drawdown.domain.errors import FloatNotAllowed, InvalidAmount, InvalidUnit


class UnitKind(StrEnum):
    CURRENCY = "currency"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Unit:
    """A currency or custom credit unit and the precision the ledger keeps it at."""

    code: str
    kind: UnitKind
    scale: int
    minor_digits: int

    def __post_init__(self) -> None:
        assert 0 <= self.minor_digits <= self.scale <= limits.UNIT_SCALE_MAX, self


# ISO 4217 minor-unit exponents for the currencies drawdown knows out of the box.
_ISO_MINOR_DIGITS = {
    "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "INR": 2, "CNY": 2, "HKD": 2, "SGD": 2,
    "BRL": 2, "MXN": 2, "ZAR": 2, "ILS": 2, "AED": 2, "JPY": 0, "KRW": 0, "CLP": 0,
    "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}  # fmt: skip

CURRENCIES = {
    code: Unit(code, UnitKind.CURRENCY, limits.CURRENCY_LEDGER_SCALE, digits)
    for code, digits in _ISO_MINOR_DIGITS.items()
}

_UNIT_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")


def credit_unit(code: str, scale: int) -> Unit:
    """Define a custom credit unit (e.g. ``API_CREDIT`` at scale 3)."""
    if not _UNIT_CODE.match(code):
        raise InvalidUnit(
            f"unit code {code!r} must be 2–32 characters of A–Z, 0–9 and _, starting with a letter",
            field="code",
        )
    if code in CURRENCIES:
        raise InvalidUnit(f"{code} is an ISO 4217 currency and cannot be redefined", field="code")
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= limits.UNIT_SCALE_MAX:
        raise InvalidUnit(f"scale must be an integer from 0 to {limits.UNIT_SCALE_MAX}", field="scale")
    return Unit(code, UnitKind.CREDIT, scale, scale)


# What a decimal given as text may look like: ASCII digits, an optional sign, fraction and
# exponent (``Decimal()`` alone would also take "1_000", " 1", "٥" and "Infinity").
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def is_decimal_text(text: str) -> bool:
    """Whether ``text`` is a plain decimal number (see :data:`DECIMAL_TEXT`)."""
    return DECIMAL_TEXT.fullmatch(text) is not None


def parse_decimal(value: object, *, field: str) -> Decimal:
    """Turn a caller's str, int or Decimal into a finite Decimal; refuse floats."""
    if isinstance(value, float):
        raise FloatNotAllowed(
            f"{field} was given as the float {value!r}; pass a decimal string such as '{value}' "
            "so no binary rounding can creep in",
            field=field,
        )
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise InvalidAmount(f"{field} must be a decimal string, got {type(value).__name__}", field=field)
    if isinstance(value, str) and len(value) > limits.DECIMAL_TEXT_LENGTH_MAX:
        raise InvalidAmount(
            f"{field} is {len(value)} characters long; at most {limits.DECIMAL_TEXT_LENGTH_MAX}", field=field
        )
    text = value.strip() if isinstance(value, str) else value
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None and not number.is_finite():
        raise InvalidAmount(f"{field} must be a finite number, got {value!r}", field=field)
    if number is None or (isinstance(text, str) and not is_decimal_text(text)):
        raise InvalidAmount(f"{field} {value!r} is not a decimal number such as '12.50'", field=field)
    return number


def to_units(value: Decimal, unit: Unit, rounding: str) -> int:
    """Convert a Decimal amount of ``unit`` into integer units, rounding as told."""
    return int(value.scaleb(unit.scale).quantize(Decimal(1), rounding=rounding))


def parse_amount(value: object, unit: Unit, *, field: str = "amount") -> int:
    """Parse a positive amount exactly; more decimal places than the unit keeps is an error."""
    number = parse_decimal(value, field=field)
    if abs(number) > Decimal(limits.AMOUNT_UNITS_MAX).scaleb(-unit.scale):
        raise InvalidAmount(
            f"{field} {value} is above the largest amount drawdown accepts "
            f"({format_units(limits.AMOUNT_UNITS_MAX, unit)} {unit.code})",
            field=field,
        )
    units = to_units(number, unit, ROUND_HALF_EVEN)
    if Decimal(units) != number.scaleb(unit.scale):
        raise InvalidAmount(
            f"{field} {value} has more decimal places than {unit.code} keeps ({unit.scale})",
            field=field,
        )
    if units <= 0:
        raise InvalidAmount(f"{field} must be greater than zero, got {value}", field=field)
    return units


def format_units(units: int, unit: Unit) -> str:
    """Render integer units as a plain decimal string at the unit's scale ('12.500000')."""
    return str(Decimal(units).scaleb(-unit.scale).quantize(Decimal(1).scaleb(-unit.scale)))


def format_display(units: int, unit: Unit) -> str:
    """Like :func:`format_units` but with no more decimals than needed, and at least the
    unit's minor digits ('12.50' USD, '0.125' AI_CREDIT, '1200' JPY)."""
    text = format_units(units, unit)
    if "." not in text:
        return text
    whole, fraction = text.split(".")
    fraction = fraction.rstrip("0").ljust(unit.minor_digits, "0")
    return f"{whole}.{fraction}" if fraction else whole


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one unit."""

    units: int
    unit: Unit

    def __str__(self) -> str:
        return format_units(self.units, self.unit)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.units).scaleb(-self.unit.scale)
