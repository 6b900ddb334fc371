"""Exact amounts: parsing, rounding, and refusing floats."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawdown.domain import limits
from drawdown.domain.errors import FloatNotAllowed, InvalidAmount, InvalidUnit
from drawdown.domain.money import CURRENCIES, credit_unit, format_units, parse_amount, parse_decimal, to_units

USD = CURRENCIES["USD"]
CREDITS = credit_unit("API_CREDIT", 3)


@given(st.integers(1, limits.AMOUNT_UNITS_MAX), st.sampled_from([USD, CREDITS, CURRENCIES["JPY"]]))
def test_formatting_then_parsing_gives_back_the_same_units(units: int, unit: object) -> None:
    assert parse_amount(format_units(units, unit), unit) == units  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (0.1, FloatNotAllowed, "float"),
        ("0", InvalidAmount, "greater than zero"),
        ("-5", InvalidAmount, "greater than zero"),
        ("1.0000001", InvalidAmount, "decimal places"),
        ("abc", InvalidAmount, "not a decimal"),
        ("1_000", InvalidAmount, "not a decimal"),  # Decimal() alone reads 1000
        ("\u0665", InvalidAmount, "not a decimal"),  # ARABIC-INDIC DIGIT FIVE: Decimal() alone reads 5
        ("1 000", InvalidAmount, "not a decimal"),
        ("NaN", InvalidAmount, "finite"),
        ("Infinity", InvalidAmount, "finite"),
        ("1e30", InvalidAmount, "largest amount"),
        (True, InvalidAmount, "decimal string"),
        (None, InvalidAmount, "decimal string"),
    ],
)
def test_bad_amounts_are_refused_with_a_message_that_says_why(value: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        parse_amount(value, USD)
    assert caught.value.field == "amount"


def test_a_decimal_becomes_units_only_with_an_explicit_rounding_mode() -> None:
    third = Decimal(1) / Decimal(3)
    assert to_units(third, CREDITS, ROUND_DOWN) == 333
    assert to_units(third, CREDITS, ROUND_UP) == 334
    assert to_units(Decimal("0.0025"), CREDITS, ROUND_HALF_EVEN) == 2


def test_currencies_keep_micro_units_and_their_iso_minor_digits() -> None:
    assert (USD.scale, USD.minor_digits) == (6, 2)
    assert CURRENCIES["JPY"].minor_digits == 0
    assert parse_amount("0.000001", USD) == 1


@pytest.mark.parametrize(("code", "scale"), [("usd_credit", 2), ("USD", 2), ("CREDITS", 12), ("CREDITS", -1)])
def test_bad_credit_unit_definitions_are_refused(code: str, scale: int) -> None:
    with pytest.raises(InvalidUnit):
        credit_unit(code, scale)


@pytest.mark.parametrize("text", ["12.50", " 12.50 ", "+3", "5e2", "1.", ".5", "0.000001E+3"])
def test_plain_decimal_text_is_read_as_written(text: str) -> None:
    assert parse_decimal(text, field="amount") == Decimal(text.strip())
