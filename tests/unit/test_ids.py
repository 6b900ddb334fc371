"""Ids: ULID-style, 48 bits of milliseconds then 80 random bits, in Crockford base32."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drawdown.bootstrap import SortableIds, crockford

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def reference(value: int) -> str:
    """Five bits a character, most significant first: the encoding ids have always had."""
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_the_two_characters_a_step_encoding_is_the_five_bits_a_character_one(value: int) -> None:
    assert crockford(value) == reference(value)


@given(st.integers(min_value=0, max_value=2**128 - 1), st.integers(min_value=0, max_value=2**128 - 1))
def test_encoded_values_sort_as_the_values_do(a: int, b: int) -> None:
    assert (crockford(a) < crockford(b)) == (a < b)


def test_ids_carry_their_prefix_and_sort_by_creation_time() -> None:
    now = iter([1_000, 1_000, 1_001])
    ids = SortableIds(lambda: next(now))
    first, second, third = ids.new("tx"), ids.new("tx"), ids.new("tx")
    assert first.startswith("tx_")
    assert len(first) == 3 + 26
    assert first[:13] == second[:13]
    assert third > max(first, second)
